// Proves S3Backend on a real Ceph RADOS Gateway started for this file: the PackBackend contract, the
// multipart path (ranges across parts, immutability, the HEAD after Complete), the metrics, the
// cleanup of abandoned uploads, and an endpoint or bucket that is wrong.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { CreateMultipartUploadCommand, ListMultipartUploadsCommand, S3Client } from '@aws-sdk/client-s3';
import { ObjectExistsError } from '../src/chunkstore/backend/pack-backend';
import { loadS3Credentials } from '../src/chunkstore/backend/s3/credentials';
import { S3Backend } from '../src/chunkstore/backend/s3/s3-backend';
import { S3RequestError } from '../src/chunkstore/backend/s3/s3-errors';
import type { S3BackendOptions } from '../src/chunkstore/backend/s3/s3-options';
import { cephSkipReason, startCeph, type CephCluster } from './support/ceph';
import { collect, newName, packBackendSuite, stage, stagingFolderFor, testBytes } from './support/pack-backend-suite';

const skip = cephSkipReason();
const mebibyte = 1024 * 1024;

describe('S3Backend on Ceph RGW', { skip }, () => {
  let cluster: CephCluster;
  let run = 0;

  before(async () => {
    cluster = await startCeph();
  });
  after(async () => {
    await cluster?.stop();
  });

  const optionsFor = (prefix: string, extra: Partial<S3BackendOptions> = {}): S3BackendOptions & { createBucket: boolean } => ({
    endpoint: cluster.endpoint,
    bucket: 'cpsbackup-test',
    prefix,
    credentials: loadS3Credentials(cluster.credentialsFile),
    createBucket: true,
    ...extra,
  });

  packBackendSuite('S3Backend', async () => {
    const backend = await S3Backend.open(optionsFor(`contract-${++run}/`));
    const staging = await stagingFolderFor('cps3-');
    return {
      backend,
      stagingFolder: staging.folder,
      dispose: async () => {
        await backend.close();
        await staging.remove();
      },
    };
  });

  test('multipart: ranges across parts read back, a second put is refused, the object is HEADed after Complete', async () => {
    const events: string[] = [];
    const backend = await S3Backend.open(optionsFor('multipart/', {
      multipartThreshold: 5 * mebibyte, partSize: 5 * mebibyte, partConcurrency: 2,
      onEvent: (event) => events.push(event.type),
    }));
    const staging = await stagingFolderFor('cps3-');
    try {
      const content = testBytes('multipart', 12 * mebibyte + 123);
      const name = newName();
      const staged = await stage(staging.folder, content);
      await backend.putPack(name, staged);
      assert.equal(existsSync(staged), false);
      assert.deepEqual(events.filter((type) => type === 'part-uploaded').length, 3);
      const stats = backend.stats();
      assert.equal(stats['upload-part'].requests, 3);
      assert.equal(stats['upload-part'].bytes, content.length);
      assert.equal(stats['complete-upload'].requests, 1);
      assert.ok(stats.head.requests >= 3, 'HEAD before the upload, before Complete and after it');
      for (const [offset, length] of [[5 * mebibyte - 10, 20], [0, content.length], [content.length - 1, 1], [10 * mebibyte - 1, 2 * mebibyte]]) {
        assert.deepEqual(await backend.readRange(name, offset, length), content.subarray(offset, offset + length), `range ${offset}+${length}`);
      }
      const other = await stage(staging.folder, testBytes('other', 6 * mebibyte));
      await assert.rejects(backend.putPack(name, other), ObjectExistsError);
      assert.equal(existsSync(other), true);
      assert.deepEqual(await backend.readRange(name, 0, content.length), content, 'the first content stays');
      assert.equal(backend.stats()['create-upload'].requests, 1, 'the refused put never started an upload');
      assert.deepEqual(await collect(backend.listPacks()), [{ name, size: content.length }]);
    } finally {
      await backend.close();
      await staging.remove();
    }
  });

  test('metrics count requests, bytes and latencies per operation', async () => {
    const backend = await S3Backend.open(optionsFor('metrics/'));
    const staging = await stagingFolderFor('cps3-');
    try {
      const name = newName();
      await backend.putPack(name, await stage(staging.folder, testBytes('metrics', 10_000)));
      await backend.readRange(name, 100, 1000);
      await backend.readRange(name, 0, 10_000);
      await assert.rejects(backend.readRange(newName(), 0, 1));
      const stats = backend.stats();
      assert.deepEqual([stats.put.requests, stats.put.bytes, stats.put.errors], [1, 10_000, 0]);
      assert.deepEqual([stats.get.requests, stats.get.bytes, stats.get.errors, stats.get.retries], [3, 11_000, 1, 0]);
      assert.equal(stats.get.latencyBuckets.at(-1), 3, 'every request falls under the last bound');
      assert.ok(stats.get.latencySecondsSum > 0);
      assert.equal(JSON.stringify(stats).includes(cluster.credentials.secretAccessKey), false);
    } finally {
      await backend.close();
      await staging.remove();
    }
  });

  test('abortIncompleteUploads clears uploads a crash left behind, under our prefix only', async () => {
    const backend = await S3Backend.open(optionsFor('abandoned/'));
    const raw = new S3Client({
      endpoint: cluster.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: cluster.credentials,
      requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
    });
    try {
      await raw.send(new CreateMultipartUploadCommand({ Bucket: 'cpsbackup-test', Key: 'abandoned/packs/ab/abandoned' }));
      await raw.send(new CreateMultipartUploadCommand({ Bucket: 'cpsbackup-test', Key: 'elsewhere/packs/ab/abandoned' }));
      assert.equal(await backend.abortIncompleteUploads(60_000), 0, 'a fresh upload may still be running');
      assert.equal(await backend.abortIncompleteUploads(0), 1);
      const left = await raw.send(new ListMultipartUploadsCommand({ Bucket: 'cpsbackup-test' }));
      assert.deepEqual((left.Uploads ?? []).map((upload) => upload.Key), ['elsewhere/packs/ab/abandoned']);
    } finally {
      raw.destroy();
      await backend.close();
    }
  });

  test('a missing bucket, or a refused connection, is a clear I/O error naming the bucket and endpoint', async () => {
    await assert.rejects(S3Backend.open({ ...optionsFor(''), bucket: 'no-such-bucket', createBucket: false }),
      (error: unknown) => error instanceof S3RequestError && /s3 head-bucket s3:\/\/no-such-bucket\/: bucket no-such-bucket does not exist at http:\/\/127\.0\.0\.1:\d+/.test(error.message));
    await assert.rejects(S3Backend.open({ ...optionsFor(''), endpoint: 'http://127.0.0.1:9', retryPolicy: { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 10 } }),
      (error: unknown) => error instanceof S3RequestError && error.code === 'IO'
        && /s3 head-bucket s3:\/\/cpsbackup-test\/: no answer from http:\/\/127\.0\.0\.1:9 \(ECONNREFUSED.*after 2 attempts/.test(error.message));
  });

  test('bad names never reach a key', async () => {
    const backend = await S3Backend.open(optionsFor('names/'));
    const staging = await stagingFolderFor('cps3-');
    try {
      for (const name of ['../escape', 'a/b', '.hidden', 'x', '']) {
        await assert.rejects(backend.putPack(name, await stage(staging.folder, Buffer.from('x'))), RangeError, name);
      }
      await assert.rejects(backend.getBlob('../../etc', `${staging.folder}/x`), RangeError);
    } finally {
      await backend.close();
      await staging.remove();
    }
  });
});
