// Regression: a backup moved the atime of every file it read and every folder it listed (relatime moves
// an atime older than the mtime, and one more than a day old), so a nightly backup marked live data as
// read: an mbox's "new mail" (atime < mtime), tmpreaper and cache eviction go by atimes. restic and borg
// read with O_NOATIME; so does cpsbackup now, where the kernel allows it (the owner, root), and so does a
// restore that reads an existing file to compare it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox } from './support/sandbox';

const OLD_ATIME = new Date('2020-01-01T00:00:00Z');
const MTIME = new Date('2021-01-01T00:00:00Z');

test('a backup, and a restore comparing what is there, leave the atimes of the files and folders they read as they were', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  const base = join(sandbox.root, 'data');
  const paths = [base, join(base, 'mail'), join(base, 'mail', 'inbox'), join(base, 'big.bin')];
  await mkdir(join(base, 'mail'), { recursive: true });
  await writeFile(join(base, 'mail', 'inbox'), 'From someone\nnew mail\n');
  await writeFile(join(base, 'big.bin'), Buffer.alloc(3 * 1024 * 1024, 7));
  const age = async (): Promise<void> => {
    // Deepest first: setting a child's times does not touch its folder's.
    for (const path of [...paths].reverse()) await utimes(path, OLD_ATIME, MTIME);
  };
  const atimes = async (): Promise<Record<string, string>> => Object.fromEntries(await Promise.all(paths.map(async (path) => [path, (await stat(path)).atime.toISOString()])));
  await age();
  const before = await atimes();
  assert.ok(Object.values(before).every((atime) => atime === OLD_ATIME.toISOString()), 'the test set old atimes');
  await sandbox.startServer();
  const config = await sandbox.writeNodeConfig('node1', [`include = ${base}`]);
  const backup = await sandbox.runClient(['-c', config, '-e']);
  assert.equal(backup.code, 0, `${backup.stdout}${backup.stderr}`);
  assert.deepEqual(await atimes(), before, 'the backup moved atimes of what it read');

  // An in-place restore reads each file there to compare it with the backup's (identical: nothing is written).
  const restore = await sandbox.runClient(['-c', config, '-i']);
  assert.equal(restore.code, 0, `${restore.stdout}${restore.stderr}`);
  assert.deepEqual(await atimes(), before, 'the in-place restore moved atimes of what it compared');
});
