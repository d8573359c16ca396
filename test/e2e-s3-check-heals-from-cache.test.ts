// Regression (red team F9): a pack object damaged in the bucket while the server's read cache held a verified copy
// of the range. A restore gave d.bin back byte for byte from the cache, then `check --read-data --repair` took d.bin
// out of its backup as "nothing can heal" it, and its bytes were gone for good. Now check stores the chunk again
// from the cache's verified copy (a new pack, read back from the bucket before it is recorded), repair removes
// nothing, and the backup restores whole from the bucket alone; with no copy anywhere, repair still takes the file out.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox } from './support/sandbox';
import { cephSkipReason, startCeph, useEncryptedBucket, type CephCluster } from './support/ceph';
import { flipObjectByte, packKey } from './support/bucket-objects';
import { writeDeterministicFile } from './support/trees';
import { assertCheckClean, assertRestoresExactly, backupNow, chunksOfFile, runCheck } from './support/fault-tools';

const skip = cephSkipReason();
const MEBIBYTE = 1024 * 1024;
const BUCKET = 'cpsbackup-heal';

describe('check heals a chunk damaged in the bucket from the read cache before --repair gives anything up', { skip }, () => {
  let cluster: CephCluster;

  before(async () => {
    cluster = await startCeph();
  });
  after(async () => {
    await cluster?.stop();
  });

  test('d.bin damaged in the bucket, whole in the cache: check stores it again, repair removes nothing, the bucket restores it', async () => {
    const sandbox = await Sandbox.create();
    const prefix = 'heal/';
    try {
      await useEncryptedBucket(sandbox, cluster, BUCKET, prefix, ['s3_cache_size = 64M']);
      const data = join(sandbox.root, 'data');
      await writeDeterministicFile(join(data, 'a.bin'), 'heal-a', 2 * MEBIBYTE);
      // Each start takes a new port: the node's configuration follows it.
      const start = async (): Promise<string> => {
        await sandbox.startServer();
        return sandbox.writeNodeConfig('node1', [`include = ${data}`]);
      };
      let configFile = await start();
      const first = await backupNow(sandbox, configFile, data);
      await writeDeterministicFile(join(data, 'd.bin'), 'heal-d', 800_000);
      const second = await backupNow(sandbox, configFile, data);
      // The restore reads backup 2 once through the cache, which keeps every range it verified.
      await assertRestoresExactly(sandbox, configFile, [second]);
      await sandbox.runningServer!.stop();

      const damaged = chunksOfFile(sandbox, 2, join(data, 'd.bin'))[0];
      await flipObjectByte(cluster, BUCKET, packKey(prefix, damaged.packName), damaged.offset + 100);
      configFile = await start();
      await assertRestoresExactly(sandbox, configFile, [second]);
      await sandbox.runningServer!.stop();

      const repaired = await runCheck(sandbox, ['--read-data', '--repair']);
      assert.equal(repaired.code, 0, repaired.stdout + repaired.stderr);
      assert.match(repaired.stdout, new RegExp(`^healed: chunk ${damaged.hash} in pack ${damaged.packName} at offset ${damaged.offset} .*stored again from the read cache`, 'm'));
      assert.doesNotMatch(repaired.stdout, /^removed: /m);
      assert.match(repaired.stdout, /^repair: no file had to be removed$/m);
      // From the bucket alone: the cache emptied, the backup still restores whole, and a fresh check reads it clean.
      await rm(join(sandbox.storeDirectory, 'cache'), { recursive: true, force: true });
      await assertCheckClean(sandbox);
      configFile = await start();
      await assertRestoresExactly(sandbox, configFile, [first, second]);
      await sandbox.runningServer!.stop();

      // No verified copy anywhere (the cache emptied again): repair is the last resort, and still takes the file out.
      await rm(join(sandbox.storeDirectory, 'cache'), { recursive: true, force: true });
      const lost = chunksOfFile(sandbox, 1, join(data, 'a.bin'))[0];
      await flipObjectByte(cluster, BUCKET, packKey(prefix, lost.packName), lost.offset + 100);
      const removed = await runCheck(sandbox, ['--read-data', '--repair']);
      assert.equal(removed.code, 3, removed.stdout + removed.stderr);
      assert.doesNotMatch(removed.stdout, /^healed: /m);
      assert.match(removed.stdout, /^removed: client node1 backup 0000001 .*a\.bin \(its content is lost\)$/m);
    } finally {
      await sandbox.destroy();
    }
  });
});
