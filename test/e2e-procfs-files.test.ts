// Regression (red team redconf): `include = /proc/sys/kernel/random` stored every file empty (procfs
// sizes say 0), and the backup exited 0. They are read to their end and restored with what they read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox } from './support/sandbox';

test('procfs files are backed up with what they read, not empty, and restored so', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  await sandbox.startServer();
  const folder = '/proc/sys/kernel/random';
  const config = await sandbox.writeNodeConfig('node1', [`include = ${folder}`]);
  const run = (args: string[]) => sandbox.runClient(['-c', config, ...args]);
  const backup = await run(['-e']);
  assert.equal(backup.code, 0, backup.stdout + backup.stderr);
  const target = join(sandbox.root, 'restored');
  const restore = await run(['-i', '--to', target]);
  assert.equal(restore.code, 0, restore.stdout + restore.stderr);
  // Values that do not move between the backup and the reading here.
  for (const name of ['poolsize', 'boot_id']) {
    const restored = join(target, folder, name);
    assert.equal(await readFile(restored, 'utf8'), await readFile(join(folder, name), 'utf8'), name);
    assert.ok((await stat(restored)).size > 0, `${name} restored empty`);
  }
});
