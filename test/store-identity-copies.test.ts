// Regression (red team reds3): the store identity (store id and key id) lived in one plain blob of the bucket,
// store-identity.json. With it deleted (a lifecycle rule, a mistaken `aws s3 rm`), the server refused to start
// ("holds no cpsbackup store ... wrong s3_bucket or s3_prefix?", exit 2) and `recover` found "no cpsbackup store:
// nothing to recover" (exit 1) while every pack and catalog snapshot was there; and since each snapshot is sealed with
// the random store id, a lost server could then not be rebuilt at all. Now the identity is kept twice
// (store-identity.json and store-identity.copy.json); either serves, and the lease holder writes a missing one again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { access, mkdtemp, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalBackend } from '../src/chunkstore/backend/local-backend';
import { StoreKey } from '../src/chunkstore/crypto/store-key';
import { ChunkStore } from '../src/chunkstore/store';
import { recoverCatalog } from '../src/chunkstore/snapshot/recover-catalog';
import { IDENTITY_BLOB, IDENTITY_COPY_BLOB } from '../src/chunkstore/store-identity';
import { backupFiles, bytesOf, readBackup, SMALL_CHUNKS } from './support/store-fixture';

/** A folder standing in for a bucket: the same PackBackend contract, taken for a remote store (lease, snapshots, identity). */
class FolderBucket extends LocalBackend {
  override readonly kind = 's3' as 'local';
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(() => true, () => false);
}

test('one identity blob deleted from the bucket: the server opens and writes it again, and recover rebuilds the catalog', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'cpsbackup-identity-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const bucket = new FolderBucket(join(root, 'bucket'));
  const blobs = join(root, 'bucket', 'blobs');
  const key = new StoreKey(randomBytes(32), 'key file test.key');
  const open = (directory: string): Promise<ChunkStore> => ChunkStore.open(directory, {
    chunker: SMALL_CHUNKS, compressionLevel: 3, encoderThreads: 0, backend: bucket, encryptionKey: key, snapshotIntervalSeconds: 0,
  });
  const server = join(root, 'server');
  let store = await open(server);
  const bytes = await bytesOf('identity-copies', 100_000);
  const backup = await backupFiles(store, 'node1', { '/data/a.bin': bytes });
  await store.close();
  assert.ok(await exists(join(blobs, IDENTITY_BLOB)) && await exists(join(blobs, IDENTITY_COPY_BLOB)), 'a new store keeps its identity twice');

  // Deleted behind the server's back: its next start opens from the copy and writes the blob again.
  await unlink(join(blobs, IDENTITY_BLOB));
  store = await open(server);
  assert.ok(await exists(join(blobs, IDENTITY_BLOB)), 'the lost identity blob is written again at the start');
  assert.ok((await readBackup(store, backup)).get('/data/a.bin')!.equals(bytes));
  await store.close();

  // The server lost too: recover reads whichever copy is left.
  await unlink(join(blobs, IDENTITY_BLOB));
  const rebuilt = join(root, 'rebuilt');
  await recoverCatalog(rebuilt, bucket, key);
  store = await open(rebuilt);
  try {
    assert.ok((await readBackup(store, store.listBackups('node1')[0])).get('/data/a.bin')!.equals(bytes), 'the recovered store restores the backup');
    assert.ok(await exists(join(blobs, IDENTITY_BLOB)) && await exists(join(blobs, IDENTITY_COPY_BLOB)), 'both copies are back');
  } finally {
    await store.close();
  }
});
