// A full disk, for real, on small tmpfs mounts (issue 7, scenarios 4 and 13): a backup bigger than the
// store's free space fails with "store is full", earlier backups stay restorable, and once space is freed
// the same server takes the next backup; a restore onto a full target fails in one clear line and leaves
// no partial file under its final name. Skipped, with the reason, where mounting a tmpfs is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox } from './support/sandbox';
import { writeDeterministicFile } from './support/trees';
import { mountTmpfs as mount, tmpfsRefusal, unmountTmpfs as unmount } from './support/tmpfs';
import { assertCheckClean, assertRestoresExactly, backupNow, listedNumbers } from './support/fault-tools';

const MEBIBYTE = 1024 * 1024;

const refusal = tmpfsRefusal();
if (refusal) process.stdout.write(`# skipping disk-full tests: ${refusal}\n`);

test('a store on a full disk: clear "store is full", earlier backups intact, next backup works once space is freed; a full restore target leaves no partial file',
  { skip: refusal ?? false }, async () => {
    const sandbox = await Sandbox.create();
    const mounts: string[] = [];
    try {
      await mkdir(sandbox.storeDirectory);
      mount(sandbox.storeDirectory, '64m');
      mounts.push(sandbox.storeDirectory);
      // An unrelated file sharing the store's disk: deleting it later is how space comes back.
      const ballast = join(sandbox.storeDirectory, 'unrelated-ballast');
      await writeDeterministicFile(ballast, 'ballast', 24 * MEBIBYTE);
      const data = join(sandbox.root, 'data');
      await writeDeterministicFile(join(data, 'small.bin'), 'small', 4 * MEBIBYTE);
      const server = await sandbox.startServer();
      const configFile = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
      const first = await backupNow(sandbox, configFile, data);

      await writeDeterministicFile(join(data, 'big.bin'), 'big', 48 * MEBIBYTE);
      await writeFile(join(data, 'a-first.txt'), 'restored before big.bin\n');
      const full = await sandbox.runClient(['-c', configFile, '-e']);
      assert.equal(full.code, 1, full.stdout + full.stderr);
      const errorLines = full.stderr.split('\n').filter((line) => line !== '');
      assert.equal(errorLines.length, 1, `one clear line, no stack:\n${full.stderr}`);
      assert.match(errorLines[0], /^cpsbackup: store is full/);
      assert.deepEqual(await listedNumbers(sandbox, configFile), [first.number]);
      await assertRestoresExactly(sandbox, configFile, [first]);

      await unlink(ballast);
      const second = await backupNow(sandbox, configFile, data);
      assert.equal(sandbox.runningServer, server, 'the same server process took the backup after space came back');
      assert.deepEqual(await listedNumbers(sandbox, configFile), [first.number, second.number]);
      await assertRestoresExactly(sandbox, configFile, [first, second]);

      const target = await mkdtemp(join(sandbox.root, 'small-target-'));
      mount(target, '16m');
      mounts.push(target);
      // A file already there that differs is kept, and said so before the error that stops the restore.
      await mkdir(join(target, data), { recursive: true });
      await writeFile(join(target, data, 'a-first.txt'), 'already there\n');
      const restore = await sandbox.runClient(['-c', configFile, '-i', String(second.number), '--to', target]);
      assert.equal(restore.code, 1, restore.stdout + restore.stderr);
      const restoreLines = restore.stderr.split('\n').filter((line) => line !== '');
      assert.equal(restoreLines.length, 2, `what was kept, then one clear line, no stack:\n${restore.stderr}`);
      assert.match(restoreLines[0], /^not replaced: .*a-first\.txt/);
      assert.match(restoreLines[1], /^cpsbackup: restore target is full: cannot write .*big\.bin/);
      const restoredFolder = join(target, data);
      const names = await readdir(restoredFolder).catch(() => [] as string[]);
      assert.ok(!names.includes('big.bin'), 'no partial big.bin under its final name');
      assert.deepEqual(names.filter((name) => name.includes('cpsbackup-')), [], 'no temporary file left behind');
      // The folders the failed restore made have their own mode, not the 0700 they are made with: a rerun keeps what it finds.
      assert.equal((await stat(restoredFolder)).mode & 0o7777, (await stat(data)).mode & 0o7777);

      await server.stop();
      await assertCheckClean(sandbox);
    } finally {
      await sandbox.runningServer?.stop();
      for (const folder of mounts.reverse()) unmount(folder);
      await sandbox.destroy();
      await rm(sandbox.root, { recursive: true, force: true });
    }
  });
