// Regression: receive_files named every path beside the dumps in its Restore request (every sibling along
// each dump's folder chain), so a dump whose folder chain passes a folder of more than 100,000 entries
// made every receive fail on the server's cap of 100,000 named paths (and before the cap sent a request
// of them all). The receiver now asks the server to leave the dumps out: here prod's include holds
// 100,001 files beside its work folder, and the replica gets every file and no dump.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox, type CommandResult } from './support/sandbox';

const FILES = 100_001;
const OPTIONS = { timeout: 180_000 };

function expectCode(result: CommandResult, code: number, what: string): CommandResult {
  assert.equal(result.code, code, `${what} exited ${result.code ?? result.signal}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  return result;
}

/**
 * Empty files: what costs is their number, not their bytes. Opened and closed in turn, 100,001 took 5 s
 * here; as many writeFile calls, 500 at a time on the thread pool, took 15 s.
 */
function makeEmptyFiles(folder: string, count: number): void {
  mkdirSync(folder, { recursive: true });
  for (let index = 0; index < count; index++) closeSync(openSync(join(folder, `f${index}`), 'w'));
}

test('receive_files restores every file of a folder of 100,001 entries that holds the dump\'s work folder, and no dump', OPTIONS, async (t) => {
  const sandbox = await Sandbox.create({ clients: ['prod'] });
  await sandbox.addClient('mirror', ['restore_client = prod']);
  t.after(() => sandbox.destroy());
  await sandbox.startServer();
  // prod's work folder (where the dump's FIFO is made) is the sandbox's work/prod: its parent is the
  // include, so the dump's folder chain passes the big folder.
  const big = join(sandbox.root, 'work');
  const work = join(big, 'prod');
  const started = Date.now();
  makeEmptyFiles(big, FILES);
  const made = Date.now();
  const storage = join(sandbox.root, 'prod-storage.conf');
  await writeFile(storage, ['source = app', 'kind = command', 'dump = echo db', 'load = cat > /dev/null', ''].join('\n'));
  const prod = await sandbox.writeNodeConfig('prod', [`include = ${big}`, `storage_conf = ${storage}`]);
  expectCode(await sandbox.runClient(['-c', prod, '-e'], { timeoutMs: 150_000 }), 0, 'prod -e');
  const backedUp = Date.now();

  const receiveTo = join(sandbox.root, 'mirror-files');
  const mirror = await sandbox.writeNodeConfig('mirror', ['receive_files = 1', `receive_to = ${receiveTo}`]);
  const result = expectCode(await sandbox.runClient(['-c', mirror, '-i', '--client', 'prod', '--if-new'], { timeoutMs: 150_000 }), 0, 'receive');
  const received = Date.now();
  t.diagnostic(`${FILES} files: made in ${made - started} ms, backed up in ${backedUp - made} ms, received in ${received - backedUp} ms`);
  assert.match(result.stdout, new RegExp(`: 0 dumps loaded, ${FILES} files restored under .*mirror-files;`));
  const copy = join(receiveTo, big);
  const names = await readdir(copy);
  assert.equal(names.length, FILES, `${names.length} entries restored in the big folder`);
  assert.ok(names.every((name) => /^f\d+$/.test(name)), 'something beside the files came back (the work folder, a dump)');
  // The work folder held only the dump: neither comes back.
  await assert.rejects(stat(join(receiveTo, work)), { code: 'ENOENT' });
});
