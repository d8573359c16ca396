// Regression: a FIFO read with read_all_fifos was restored as if it were a dump source's file. It
// skipped the overwrite policy (an existing file at its path was replaced without --overwrite), came
// back as a 0600 file whatever its recorded mode, and was handed to the loaders as an unclaimed dump
// (exit 3). It holds what was piped through it: a file like any other, never a dump.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmod, lstat, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runBackup } from '../src/client/uploader';
import { runRestore } from '../src/client/restorer';
import { BackupKind } from '../src/proto/cpsbackup';
import { startInProcessServer } from './support/in-process-server';

test('a FIFO read with read_all_fifos restores as a file under the overwrite policy, not as a dump', async (t) => {
  const harness = await startInProcessServer(['node1']);
  t.after(() => harness.stop());
  const data = join(harness.sandbox.root, 'data');
  await mkdir(data, { recursive: true });
  const fifo = join(data, 'pipe');
  execFileSync('mkfifo', [fifo]);
  await chmod(fifo, 0o640);
  await writeFile(join(data, 'plain.txt'), 'plain\n');
  // The writer blocks on open until the backup reads the FIFO.
  const writer = spawn('sh', ['-c', `printf 'piped bytes\\n' > '${fifo}'`], { stdio: 'ignore' });
  t.after(() => { if (writer.exitCode === null) writer.kill('SIGKILL'); });
  const config = await harness.nodeConfig('node1', [`include = ${data}`, 'read_all_fifos = 1']);
  await runBackup(config, { kind: BackupKind.BACKUP_KIND_COMPLETE });

  const fresh = join(harness.sandbox.root, 'fresh');
  const restored = await runRestore(config, { backupId: 0, to: fresh });
  assert.deepEqual(restored.failures, []);
  assert.deepEqual(restored.dumpFiles, [], 'a read FIFO is no dump to load');
  const info = await lstat(join(fresh, fifo));
  assert.ok(info.isFile());
  assert.equal(info.mode & 0o7777, 0o640, 'the recorded mode, not a dump file\'s 0600');
  assert.equal(await readFile(join(fresh, fifo), 'utf8'), 'piped bytes\n');

  // An existing file at the path, the default policy: kept, reported, not replaced.
  const existing = join(harness.sandbox.root, 'existing');
  await mkdir(join(existing, data), { recursive: true });
  await writeFile(join(existing, fifo), 'live data\n');
  const kept = await runRestore(config, { backupId: 0, to: existing });
  assert.equal(await readFile(join(existing, fifo), 'utf8'), 'live data\n');
  assert.deepEqual(kept.keptExisting, [`${join(existing, fifo)}: exists and differs from the backup; kept (--overwrite replaces it)`]);
  assert.deepEqual(kept.dumpFiles, []);

  // A live FIFO at the path (an application's pipe): left in place too.
  const live = join(harness.sandbox.root, 'live');
  await mkdir(join(live, data), { recursive: true });
  execFileSync('mkfifo', [join(live, fifo)]);
  const keptFifo = await runRestore(config, { backupId: 0, to: live });
  assert.ok((await lstat(join(live, fifo))).isFIFO());
  assert.equal(keptFifo.keptExisting.length, 1, keptFifo.keptExisting.join('\n'));
});
