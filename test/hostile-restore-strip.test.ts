// Regression (security review, finding 6): --strip dropped leading components without looking at them: "/../x"
// and "//x" became "/x" (another spelling landing on the same file), and "/x/" the target itself (its mode set by
// an entry that is no folder's path). A path --strip cannot cut at whole names is refused as the restore refuses it
// unstripped (splitEntryPath), each such entry reported; the others are restored. The real client (runRestore)
// against a server answering with a hand-written stream.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, realpath, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackupSummary, EntryType, type EntryMeta, type RestoreResponse } from '../src/proto/cpsbackup';
import { batchedEntry } from '../src/common/wire/batched-entry';
import { runRestore } from '../src/client/restorer';
import { strippedPath } from '../src/client/strip-path';
import { UnsafeEntryPathError } from '../src/client/restore-tree/errors';
import { meta } from './support/hostile-client';
import { startHostileServer } from './support/hostile-server';
import { removeTree } from './support/remove-tree';

const OPTIONS = { timeout: 60_000 };
const header: RestoreResponse = { message: { $case: 'backup', value: BackupSummary.fromPartial({ backupId: 1 }) } };
const owner = { uid: process.getuid!(), gid: process.getgid!() };

function sent(entries: readonly EntryMeta[]): RestoreResponse[] {
  return [header, ...entries.map((entry): RestoreResponse => {
    const content = Buffer.from(entry.type === EntryType.ENTRY_TYPE_FILE ? `content of ${entry.path.toString()}\n` : '');
    const sha256 = createHash('sha256').update(content).digest();
    return { message: { $case: 'batch', value: { entries: [batchedEntry({ ...entry, size: content.length }, entry.type === EntryType.ENTRY_TYPE_FILE ? { content, sha256 } : {})] } } };
  })];
}

test('strippedPath drops whole components of a valid path, and refuses any other spelling', () => {
  assert.deepEqual(strippedPath(Buffer.from('/a/b/c'), 1), Buffer.from('/b/c'));
  assert.deepEqual(strippedPath(Buffer.from('/a/b'), 2), Buffer.from('/'));
  assert.equal(strippedPath(Buffer.from('/a'), 2), undefined);
  for (const path of ['/../x', '//x', '/x/', '/a/./b', '/a/b/', 'a/b', '/a/../b', '/a\0/b', '']) {
    assert.throws(() => strippedPath(Buffer.from(path), 1), UnsafeEntryPathError, JSON.stringify(path));
  }
  // Unstripped, the path goes to the tree as it is, which refuses it there.
  assert.deepEqual(strippedPath(Buffer.from('//x'), 0), Buffer.from('//x'));
});

test('--strip 1: "//f", "/../g" and "/b/" are refused and reported; /a/f lands on f and the target keeps /a\'s mode', OPTIONS, async (t) => {
  let answer: RestoreResponse[] = [];
  const server = await startHostileServer(() => answer);
  t.after(() => server.stop());
  const base = await realpath(await mkdtemp(join(tmpdir(), 'cpsbackup-hostile-strip-')));
  t.after(async () => removeTree(base));
  const config = await server.nodeConfig('node1');
  answer = sent([
    meta('//f', EntryType.ENTRY_TYPE_FILE, owner),
    meta('/../g', EntryType.ENTRY_TYPE_FILE, owner),
    meta('/a', EntryType.ENTRY_TYPE_DIRECTORY, { ...owner, mode: 0o040750 }),
    meta('/a/f', EntryType.ENTRY_TYPE_FILE, owner),
    meta('/b/', EntryType.ENTRY_TYPE_DIRECTORY, { ...owner, mode: 0o040777 }),
  ]);
  const target = join(base, 'made');
  const result = await runRestore(config, { backupId: 1, to: target, strip: 1 });
  assert.deepEqual((await readdir(target)).sort(), ['f']);
  assert.equal(await readFile(join(target, 'f'), 'utf8'), 'content of /a/f\n');
  assert.equal((await stat(target)).mode & 0o7777, 0o750);
  for (const [path, problem] of [['//f', 'empty component'], ['/../g', '".." component'], ['/b/', 'empty component']]) {
    assert.ok(result.failures.some((line) => line.startsWith(`refusing to restore "${path}": `) && line.includes(problem)), `${path}: ${result.failures.join('\n')}`);
  }
  assert.equal(result.failures.length, 3, result.failures.join('\n'));
});
