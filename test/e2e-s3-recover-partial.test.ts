// Regression (red team F8): with the newest catalog snapshots damaged, `recover` printed "skipped: …" on stdout,
// installed an older generation (with the two newest damaged: generation 1, 0 clients, 0 backups, every pack of the
// bucket unknown to it) and exited 0. Now it says on stderr which snapshots it skipped and why, that the installed
// generation is older than the bucket's newest, and how many packs (and bytes) the bucket holds that it does not
// know, and exits 3 (done, something missing); an older generation is installed only with --accept-older-snapshot
// (without it: nothing installed, exit 1); a recover that installs the newest snapshot with every pack known exits 0.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox } from './support/sandbox';
import { cephSkipReason, startCeph, useEncryptedBucket, type CephCluster } from './support/ceph';
import { bucketKeys, flipObjectByte } from './support/bucket-objects';
import { writeDeterministicFile } from './support/trees';
import { backupNow } from './support/fault-tools';

const skip = cephSkipReason();
const MEBIBYTE = 1024 * 1024;
const BUCKET = 'cpsbackup-recover';

describe('recover that skips damaged snapshots or leaves packs unknown says so and exits 3', { skip }, () => {
  let cluster: CephCluster;

  before(async () => {
    cluster = await startCeph();
  });
  after(async () => {
    await cluster?.stop();
  });

  test('the newest snapshot damaged, then the two newest: each recover names what it skipped and lacks, exit 3', async () => {
    const sandbox = await Sandbox.create();
    const prefix = 'partial/';
    try {
      await useEncryptedBucket(sandbox, cluster, BUCKET, prefix);
      const data = join(sandbox.root, 'data');
      await writeDeterministicFile(join(data, 'a.bin'), 'recover-a', 2 * MEBIBYTE);
      await sandbox.startServer();
      const configFile = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
      await backupNow(sandbox, configFile, data);
      await writeDeterministicFile(join(data, 'b.bin'), 'recover-b', 500_000);
      await backupNow(sandbox, configFile, data);
      await sandbox.runningServer!.stop();

      // Every snapshot whole: the newest installs, every pack known, exit 0.
      await rm(sandbox.storeDirectory, { recursive: true, force: true });
      const whole = await sandbox.runServerCommand(['recover']);
      assert.equal(whole.code, 0, whole.stdout + whole.stderr);
      assert.doesNotMatch(whole.stderr, /skipped|does not name/);

      const snapshots = (await bucketKeys(cluster, BUCKET, `${prefix}blobs/catalog-`)).sort();
      assert.ok(snapshots.length >= 3, snapshots.join(' '));
      const generationOf = (key: string): number => Number(/catalog-(\d+)\.snapshot$/.exec(key)![1]);
      const newest = snapshots[snapshots.length - 1];
      const second = snapshots[snapshots.length - 2];

      await flipObjectByte(cluster, BUCKET, newest, 500);
      await rm(sandbox.storeDirectory, { recursive: true, force: true });
      // An older generation is installed only when the operator asks: it lacks what the newer one holds.
      const refused = await sandbox.runServerCommand(['recover']);
      assert.equal(refused.code, 1, refused.stdout + refused.stderr);
      assert.match(refused.stderr, new RegExp(`catalog-0*${generationOf(newest)}\\.snapshot: .*nothing installed.*--accept-older-snapshot`));
      assert.equal(existsSync(join(sandbox.storeDirectory, 'catalog.db')), false, 'no catalog installed');
      const older = await sandbox.runServerCommand(['recover', '--accept-older-snapshot']);
      assert.equal(older.code, 3, older.stdout + older.stderr);
      assert.match(older.stderr, new RegExp(`^cpsbackup-server: warning: skipped catalog snapshot catalog-0*${generationOf(newest)}\\.snapshot: .*fails authentication`, 'm'));
      assert.match(older.stderr, new RegExp(`installed catalog snapshot generation ${generationOf(second)}, older than the bucket's newest, ${generationOf(newest)}`));
      assert.match(older.stderr, /holds [1-9]\d* packs \(\d+ bytes\) this catalog does not name/);

      await flipObjectByte(cluster, BUCKET, second, 500);
      await rm(sandbox.storeDirectory, { recursive: true, force: true });
      const oldest = await sandbox.runServerCommand(['recover', '--accept-older-snapshot']);
      assert.equal(oldest.code, 3, oldest.stdout + oldest.stderr);
      assert.equal((oldest.stderr.match(/warning: skipped catalog snapshot /g) ?? []).length, 2, oldest.stderr);
      assert.match(oldest.stderr, /holds [1-9]\d* packs \(\d+ bytes\) this catalog does not name/);
    } finally {
      await sandbox.destroy();
    }
  });
});
