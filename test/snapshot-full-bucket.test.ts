// Regression (red team reds3): a bucket at its quota (Ceph RGW answered 403 QuotaExceeded) could not be freed by the
// product. Deleting backups dooms packs, and GC deletes a doomed pack only after a catalog snapshot that no longer
// names it is stored; that snapshot was one more write, refused by the quota, so GC deleted nothing ("doomed packs stay
// ... until a catalog snapshot without them is stored"), on every run, though the error said "free space (delete
// backups, then gc)". Now a snapshot refused for want of room deletes the older generations first (the newest stays)
// and is stored; the doomed packs then go.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Catalog } from '../src/chunkstore/catalog/catalog';
import { LocalBackend } from '../src/chunkstore/backend/local-backend';
import type { StoredObject } from '../src/chunkstore/backend/pack-backend';
import { S3RequestError } from '../src/chunkstore/backend/s3/s3-errors';
import { StoreKey } from '../src/chunkstore/crypto/store-key';
import { SEALED_FRAMING_OVERHEAD } from '../src/chunkstore/crypto/sealed-framing';
import { CatalogSnapshots } from '../src/chunkstore/snapshot/catalog-snapshots';

/** A folder standing in for a bucket with a quota on its blobs, refusing a put as Ceph RGW does (403 QuotaExceeded). */
class QuotaBucket extends LocalBackend {
  quotaBytes = Number.POSITIVE_INFINITY;

  override async putBlob(name: string, stagedFile: string): Promise<void> {
    let used = 0;
    for await (const blob of this.listBlobs()) used += blob.size;
    const { size } = await stat(stagedFile);
    if (used + size > this.quotaBytes) {
      throw new S3RequestError({ operation: 'put', bucket: 'quota-bucket', key: `blobs/${name}`, endpoint: 'http://127.0.0.1:1' },
        { status: 403, code: 'QuotaExceeded', isTransient: false }, 1, 'refused the write: the quota of bucket quota-bucket is exceeded');
    }
    return super.putBlob(name, stagedFile);
  }

  async snapshots(): Promise<StoredObject[]> {
    const found: StoredObject[] = [];
    for await (const blob of this.listBlobs()) if (blob.name.startsWith('catalog-')) found.push(blob);
    return found.sort((a, b) => a.name.localeCompare(b.name));
  }
}

test('a bucket at its quota: the snapshot GC waits for deletes the older generations first and is stored', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'cpsbackup-full-bucket-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const staging = join(root, 'server', 'staging');
  await mkdir(staging, { recursive: true });
  const catalog = new Catalog(join(root, 'server', 'catalog.db'), SEALED_FRAMING_OVERHEAD);
  t.after(() => catalog.close());
  const key = new StoreKey(randomBytes(32), 'key file test.key');
  const storeId = randomBytes(16).toString('hex');
  catalog.meta.set('store_id', storeId);
  catalog.meta.set('encryption_key_id', key.keyIdHex);
  const bucket = new QuotaBucket(join(root, 'bucket'));
  const snapshots = new CatalogSnapshots({ catalog, backend: bucket, key, storeId, stagingDirectory: staging, minIntervalMs: 0 });
  for (let index = 0; index < 3; index++) {
    catalog.meta.set('mark', `generation ${index + 1}`);
    snapshots.markChanged();
    await snapshots.flush();
  }
  const stored = await bucket.snapshots();
  assert.equal(stored.length, 3);
  // Full: no room for one more snapshot of this size, as a bucket whose packs took the quota leaves none.
  bucket.quotaBytes = stored.reduce((sum, blob) => sum + blob.size, 0) + 16;

  catalog.meta.set('mark', 'packs doomed: this one must be stored before they are deleted');
  snapshots.markChanged();
  await snapshots.flush();
  const after = await bucket.snapshots();
  assert.deepEqual(after.map((blob) => blob.name), ['catalog-000000000003.snapshot', 'catalog-000000000004.snapshot'],
    'the new generation is stored beside the newest one before it; the older ones made room');
  await snapshots.close();
});
