// Multipart uploads a crash left behind are aborted when the store opens, on a real Ceph RADOS Gateway:
// only the store's own (packs/ and blobs/ under its prefix, never another store's in the same bucket,
// not even one nested under it or beside it with an empty prefix), only when older than the grace
// period, and only by the holder of the bucket's lease.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateMultipartUploadCommand, ListMultipartUploadsCommand, S3Client } from '@aws-sdk/client-s3';
import { loadS3Credentials } from '../src/chunkstore/backend/s3/credentials';
import { S3Backend } from '../src/chunkstore/backend/s3/s3-backend';
import { ChunkStore } from '../src/chunkstore/store';
import { BusyError } from '../src/common/errors';
import { cephSkipReason, startCeph, type CephCluster } from './support/ceph';
import { SMALL_CHUNKS } from './support/store-fixture';

const skip = cephSkipReason();

describe('abandoned multipart uploads on Ceph RGW', { skip }, () => {
  let cluster: CephCluster;
  let raw: S3Client;
  let root: string;

  before(async () => {
    cluster = await startCeph();
    raw = new S3Client({
      endpoint: cluster.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: cluster.credentials,
      requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
    });
    root = await mkdtemp(join(tmpdir(), 'cps3u-'));
  });
  after(async () => {
    raw?.destroy();
    await rm(root, { recursive: true, force: true });
    await cluster?.stop();
  });

  const backendFor = (bucket: string, prefix: string): Promise<S3Backend> => S3Backend.open({
    endpoint: cluster.endpoint, bucket, prefix, credentials: loadS3Credentials(cluster.credentialsFile), createBucket: true,
  });
  const startUploads = async (bucket: string, keys: readonly string[]): Promise<void> => {
    for (const key of keys) await raw.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
  };
  const uploadKeys = async (bucket: string): Promise<string[]> => {
    const listed = await raw.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    return (listed.Uploads ?? []).map((upload) => upload.Key ?? '').sort();
  };

  // Regression: the sweep listed uploads under the bare s3_prefix, so a store with prefix "" aborted every
  // upload in the bucket, and one with "a/" those of a store under "a/b/".
  test('only the store\'s own pack and blob uploads go: not other stores\', nested or beside an empty prefix', async () => {
    const bucket = 'cpsbackup-uploads';
    const atRoot = await backendFor(bucket, '');
    const underA = await backendFor(bucket, 'a/');
    try {
      const others = ['a/b/packs/cd/cd-nested', 'notes/readme.txt', 'other/packs/ab/ab-other', 'packs/packs/ab/ab-store-named-packs'];
      await startUploads(bucket, ['packs/ab/ab-root', 'blobs/catalog-000001', 'a/packs/ab/ab-under-a', ...others]);
      assert.equal(await atRoot.abortIncompleteUploads(60_000), 0, 'a fresh upload may still be running');
      assert.equal(await atRoot.abortIncompleteUploads(0), 2);
      assert.deepEqual(await uploadKeys(bucket), ['a/packs/ab/ab-under-a', ...others].sort());
      assert.equal(await underA.abortIncompleteUploads(0), 1);
      assert.deepEqual(await uploadKeys(bucket), [...others].sort());
    } finally {
      await atRoot.close();
      await underA.close();
    }
  });

  // Regression: abortIncompleteUploads was called only from tests, so a crash's uploads held space for ever.
  test('the store aborts its own old uploads when it opens, past the grace period only, and only while it holds the lease', async () => {
    const bucket = 'cpsbackup-uploads-open';
    const open = async (folder: string, abandonedUploadSeconds?: number): Promise<ChunkStore> => {
      const backend = await backendFor(bucket, 'site/');
      try {
        return await ChunkStore.open(join(root, folder), { chunker: SMALL_CHUNKS, compressionLevel: 3, encoderThreads: 0, backend, abandonedUploadSeconds });
      } catch (error) {
        await backend.close();
        throw error;
      }
    };
    await (await backendFor(bucket, 'site/')).close(); // makes the bucket
    await startUploads(bucket, ['site/packs/ab/ab-crashed', 'elsewhere/packs/ab/ab-crashed']);
    const fresh = await open('server');
    await fresh.close();
    assert.deepEqual(await uploadKeys(bucket), ['elsewhere/packs/ab/ab-crashed', 'site/packs/ab/ab-crashed'], 'younger than the default 24 hours: kept');

    const sweeper = await open('server', 0);
    await sweeper.close();
    assert.deepEqual(await uploadKeys(bucket), ['elsewhere/packs/ab/ab-crashed'], 'the store\'s own went; another store\'s stays');

    // A copy of the store folder (a recover drill, a second server) is refused by the lease before it aborts anything.
    await cp(join(root, 'server'), join(root, 'drill'), { recursive: true });
    const holder = await open('server', 0);
    try {
      await startUploads(bucket, ['site/packs/cd/cd-running']);
      await assert.rejects(open('drill', 0), BusyError);
      assert.deepEqual(await uploadKeys(bucket), ['elsewhere/packs/ab/ab-crashed', 'site/packs/cd/cd-running'], 'a refused server aborts nothing');
    } finally {
      await holder.close();
    }
  });
});
