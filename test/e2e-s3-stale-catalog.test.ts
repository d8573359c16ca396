// Regression (S3 reliability review): a server started on a catalog put back from an older copy (a VM snapshot rolled
// back) took the next catalog snapshot generations and pruned the newer catalog's, so `recover` could no longer bring
// back the backups only that catalog had. On a real Ceph RGW bucket, through the real CLIs: the start names the newer
// generation, backups go on and no snapshot is stored; `recover` (old catalog moved aside) restores backup 2 byte for
// byte; `accept-catalog` on the old catalog stores its snapshot above the newer ones.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox } from './support/sandbox';
import { cephSkipReason, startCeph, type CephCluster } from './support/ceph';
import { bucketKeys } from './support/bucket-objects';
import { writeDeterministicFile } from './support/trees';
import { assertRestoresExactly, backupNow, listedNumbers } from './support/fault-tools';

const skip = cephSkipReason();
const MEBIBYTE = 1024 * 1024;
const BUCKET = 'cpsbackup-stale';
const PREFIX = 'stale/';

async function newestGeneration(cluster: CephCluster): Promise<number> {
  const generations = (await bucketKeys(cluster, BUCKET, PREFIX)).map((key) => /catalog-(\d{12})\.snapshot$/.exec(key)).filter((match) => match !== null)
    .map((match) => Number(match[1]));
  assert.ok(generations.length > 0, 'the bucket holds catalog snapshots');
  return Math.max(...generations);
}

describe('a catalog put back from an older copy, on a Ceph RGW bucket through the real CLIs', { skip }, () => {
  let cluster: CephCluster;

  before(async () => {
    cluster = await startCeph();
  });
  after(async () => {
    await cluster?.stop();
  });

  test('the start names the newer snapshot and stores none; recover brings back backup 2; accept-catalog keeps the old catalog', async () => {
    const sandbox = await Sandbox.create();
    try {
      const made = await sandbox.runServerCommand(['init-key', join(sandbox.root, 'store.key')]);
      assert.equal(made.code, 0, made.stdout + made.stderr);
      await sandbox.rewriteServerConfig([
        'storage = s3', `s3_endpoint = ${cluster.endpoint}`, `s3_bucket = ${BUCKET}`, `s3_prefix = ${PREFIX}`,
        `s3_credentials_file = ${cluster.credentialsFile}`, `encryption_key_file = ${join(sandbox.root, 'store.key')}`, 'catalog_snapshot_interval = 0',
        'chunk_min_size = 16384', 'chunk_avg_size = 65536', 'chunk_max_size = 262144',
      ]);
      const data = join(sandbox.root, 'data');
      const catalogFile = join(sandbox.storeDirectory, 'catalog.db');
      await writeDeterministicFile(join(data, 'one.bin'), 'stale-one', MEBIBYTE);
      // A started server listens on a new port: the node config follows it.
      const start = async (): Promise<string> => {
        await sandbox.startServer();
        return sandbox.writeNodeConfig('node1', [`include = ${data}`]);
      };
      let config = await start();
      const first = await backupNow(sandbox, config, data);
      await sandbox.runningServer!.stop();
      await copyFile(catalogFile, join(sandbox.root, 'catalog-after-backup-1.db'));

      config = await start();
      await writeDeterministicFile(join(data, 'two.bin'), 'stale-two', MEBIBYTE);
      const second = await backupNow(sandbox, config, data);
      await sandbox.runningServer!.stop();
      const newest = await newestGeneration(cluster);

      // The VM snapshot rolled back: the catalog of before backup 2, then several snapshots' worth of backups.
      await copyFile(join(sandbox.root, 'catalog-after-backup-1.db'), catalogFile);
      await Promise.all(['-wal', '-shm'].map((suffix) => rm(`${catalogFile}${suffix}`, { force: true })));
      config = await start();
      const stale = sandbox.runningServer!;
      for (let round = 0; round < 4; round++) {
        await writeDeterministicFile(join(data, `later-${round}.bin`), `stale-later-${round}`, 256 * 1024);
        await backupNow(sandbox, config, data);
      }
      await stale.stop();
      assert.match(stale.log(), new RegExp(`holds catalog snapshot generation ${newest}, .*accept-catalog`));
      assert.equal(await newestGeneration(cluster), newest, 'the stale catalog stored no snapshot');

      await rename(sandbox.storeDirectory, join(sandbox.root, 'stale-store'));
      const recovered = await sandbox.runServerCommand(['recover']);
      // The stale catalog's own backups since its start are in packs the newer catalog does not name: said, exit 3.
      assert.equal(recovered.code, 3, recovered.stdout + recovered.stderr);
      assert.match(recovered.stderr, /warning: .* holds [1-9]\d* packs \(\d+ bytes\) this catalog does not name/);
      assert.match(recovered.stdout, new RegExp(`from snapshot generation ${newest} `));
      config = await start();
      assert.deepEqual(await listedNumbers(sandbox, config), [1, 2]);
      await assertRestoresExactly(sandbox, config, [first, second]);
      await sandbox.runningServer!.stop();

      // The other way out: the old catalog, kept on purpose.
      await rm(sandbox.storeDirectory, { recursive: true, force: true });
      await rename(join(sandbox.root, 'stale-store'), sandbox.storeDirectory);
      const newestBefore = await newestGeneration(cluster);
      const accepted = await sandbox.runServerCommand(['accept-catalog']);
      assert.equal(accepted.code, 0, accepted.stdout + accepted.stderr);
      const stored = /catalog snapshot generation (\d+) of this catalog stored/.exec(accepted.stdout);
      assert.ok(stored !== null && Number(stored[1]) > newestBefore, accepted.stdout);
      config = await start();
      assert.deepEqual(await listedNumbers(sandbox, config), [1, 2, 3, 4, 5], 'the old catalog and its own later backups');
    } finally {
      await sandbox.destroy();
    }
  });
});
