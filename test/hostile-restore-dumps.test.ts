// Regression (security review, finding 5): a dump is recognised by its marks alone (FIFO content with no inode,
// device or ctime: common/dump-entry.ts), and the client replaced a dump whatever --overwrite said and listed it
// for its loader. A broken or hostile server could mark any entry so and replace, in place and as root, any file
// it names (--overwrite=never included). Now a dump is one only where this node makes them, <work_directory>/dumps/
// <source>/<file>; marked so anywhere else it is an ordinary file under the overwrite policy, not loaded, and said
// so. The real client (runRestore) against a server answering with a hand-written stream, in place (the paths are
// in a temporary folder) and --to a folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, realpath, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { BackupSummary, EntryType, type EntryMeta, type RestoreResponse } from '../src/proto/cpsbackup';
import { batchedEntry } from '../src/common/wire/batched-entry';
import { runRestore, type RestoreOptions, type RestoreResult } from '../src/client/restorer';
import { loadRestoredDumps } from '../src/client/sources/loaders';
import type { StorageConfig } from '../src/client/sources/storage-config';
import { meta } from './support/hostile-client';
import { startHostileServer } from './support/hostile-server';
import { removeTree } from './support/remove-tree';

const OPTIONS = { timeout: 60_000 };
const header: RestoreResponse = { message: { $case: 'backup', value: BackupSummary.fromPartial({ backupId: 1 }) } };
/** What a dump's entry carries where a walked FIFO has its inode, device and ctime (common/dump-entry.ts). */
const DUMP_MARKS = { inode: 0, device: 0, ctimeSec: 0, ctimeNsec: 0 };
const SERVER_SAYS = 'sent by the server\n';

function dump(path: string): EntryMeta {
  return meta(path, EntryType.ENTRY_TYPE_FIFO_CONTENT, { ...DUMP_MARKS, mode: 0o600, uid: process.getuid!(), gid: process.getgid!(), size: SERVER_SAYS.length });
}

function sent(entries: readonly EntryMeta[]): RestoreResponse[] {
  const content = Buffer.from(SERVER_SAYS);
  const sha256 = createHash('sha256').update(content).digest();
  return [header, ...entries.map((entry): RestoreResponse => ({ message: { $case: 'batch', value: { entries: [batchedEntry(entry, { content, sha256 })] } } }))];
}

/** A hostile server for one test, and this node's config for it: restore() sends it the entries it answers with next. */
async function hostile(t: { after(fn: () => Promise<void>): void }): Promise<{ workDirectory: string;
  restore(entries: readonly EntryMeta[], options?: Omit<RestoreOptions, 'backupId'>): Promise<RestoreResult> }> {
  let answer: RestoreResponse[] = [];
  const server = await startHostileServer(() => answer);
  t.after(() => server.stop());
  const config = await server.nodeConfig('node1');
  return {
    workDirectory: config.workDirectory,
    restore(entries, options = {}) {
      answer = sent(entries);
      return runRestore(config, { backupId: 1, ...options });
    },
  };
}

/** A file of the operator's at each path (its folders made), to be kept under --overwrite=never. */
async function operatorFiles(paths: readonly string[]): Promise<void> {
  for (const path of paths) {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, 'the operator\'s\n');
  }
}

async function scratch(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const base = await realpath(await mkdtemp(join(tmpdir(), 'cpsbackup-hostile-dumps-')));
  t.after(async () => removeTree(base));
  return base;
}

test('in place, an entry marked as a dump outside this node\'s dumps folder is kept under --overwrite=never, not loaded, and said', OPTIONS, async (t) => {
  const base = await scratch(t);
  const { workDirectory, restore } = await hostile(t);
  const outside = [
    join(base, 'authorized_keys'), // any file
    join(base, 'elsewhere/dumps/pg/dump'), // a folder named dumps, not this node's
    join(workDirectory, 'dumps/pg/sub/dump'), // below a source's folder
    join(workDirectory, 'dumps/dump'), // beside the sources' folders
    join(`${workDirectory}x`, 'dumps/pg/dump'), // a work folder whose name starts like this one's
  ];
  await operatorFiles(outside);
  const result = await restore(outside.map(dump));
  for (const path of outside) {
    assert.equal(await readFile(path, 'utf8'), 'the operator\'s\n', path);
    assert.ok(result.failures.some((line) => line.startsWith(`${path}: marked as a dump, but not in ${workDirectory}/dumps/<source>/`)), result.failures.join('\n'));
    assert.ok(result.keptExisting.some((line) => line.includes(path)), result.keptExisting.join('\n'));
  }
  assert.deepEqual(result.dumpFiles, []);
});

test('in place, a dump in this node\'s dumps folder replaces the file there and goes to its loader; an unconfigured source\'s is kept', OPTIONS, async (t) => {
  const { workDirectory, restore } = await hostile(t);
  const own = join(workDirectory, 'dumps/app/dump');
  const unconfigured = join(workDirectory, 'dumps/other/dump');
  await operatorFiles([own, unconfigured]);
  const result = await restore([dump(own), dump(unconfigured)]);
  assert.deepEqual(result.failures, []);
  assert.deepEqual(result.dumpFiles.map((file) => file.localPath), [own, unconfigured]);
  assert.equal(await readFile(own, 'utf8'), SERVER_SAYS);
  // The loaders take only a source storage.conf names: the other is kept, said, and nothing is run for it.
  const storage: StorageConfig = { file: '/etc/cpsbackup/storage.conf', sources: [{ name: 'app', kind: 'command', line: 1, timeoutSeconds: 60, dump: 'true', load: 'cat > /dev/null' }] };
  const loads = await loadRestoredDumps(storage, result.dumpFiles.map((file) => ({ path: file.localPath, sourceName: file.localPath.split('/').at(-2)! })));
  assert.deepEqual(loads.map((load) => [load.sourceName, load.ok, load.isUnclaimed ?? false]), [['app', true, false], ['other', false, true]]);
  assert.equal(await readFile(unconfigured, 'utf8'), SERVER_SAYS);
});

test('--to a folder: this node\'s own backups have their dumps in its dumps folder; another node\'s in any folder named dumps', OPTIONS, async (t) => {
  const target = await scratch(t);
  const { workDirectory, restore } = await hostile(t);
  const own = join(workDirectory, 'dumps/app/dump');
  const others = '/var/lib/elsewhere/dumps/app/dump';
  const mine = await restore([dump(own), dump(others)], { to: join(target, 'mine') });
  assert.deepEqual(mine.dumpFiles.map((file) => file.originalPath), [own]);
  assert.match(mine.failures.join('\n'), /^\/var\/lib\/elsewhere\/dumps\/app\/dump: marked as a dump, but not in /);
  // A receiver's restore of the sender's dumps: the sender's work folder is not known here.
  const received = await restore([dump(others), dump('/var/lib/elsewhere/app/dump')], { to: join(target, 'received'), clientName: 'node2' });
  assert.deepEqual(received.dumpFiles.map((file) => file.originalPath), [others]);
  assert.match(received.failures.join('\n'), /^\/var\/lib\/elsewhere\/app\/dump: marked as a dump, but not in a folder named dumps/);
});
