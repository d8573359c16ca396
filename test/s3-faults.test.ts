// Proves S3Backend under real faults on a real Ceph RADOS Gateway: radosgw SIGKILLed in the middle of a
// multipart upload, a gateway restart ridden out by the retries, answers lost after the service acted
// (a TCP proxy cuts the connection as the answer starts), and a wrong secret.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { AuthError, NotFoundError } from '../src/common/errors';
import { ObjectExistsError } from '../src/chunkstore/backend/pack-backend';
import { loadS3Credentials, S3Credentials } from '../src/chunkstore/backend/s3/credentials';
import { S3Backend } from '../src/chunkstore/backend/s3/s3-backend';
import { S3AuthError, S3RequestError } from '../src/chunkstore/backend/s3/s3-errors';
import type { S3BackendOptions } from '../src/chunkstore/backend/s3/s3-options';
import type { S3Event } from '../src/chunkstore/backend/s3/s3-requester';
import { cephSkipReason, startCeph, type CephCluster } from './support/ceph';
import { startCuttingProxy } from './support/cutting-proxy';
import { collect, newName, stage, stagingFolderFor, testBytes } from './support/pack-backend-suite';

const skip = cephSkipReason();
const mebibyte = 1024 * 1024;
const bucket = 'cpsbackup-faults';

describe('S3Backend faults on Ceph RGW', { skip }, () => {
  let cluster: CephCluster;
  let staging: { folder: string; remove(): Promise<void> };

  before(async () => {
    cluster = await startCeph();
    staging = await stagingFolderFor('cps3f-');
  });
  after(async () => {
    await staging?.remove();
    await cluster?.stop();
  });

  const optionsFor = (prefix: string, extra: Partial<S3BackendOptions> = {}): S3BackendOptions & { createBucket: boolean } => ({
    endpoint: cluster.endpoint, bucket, prefix, credentials: loadS3Credentials(cluster.credentialsFile), createBucket: true, ...extra,
  });

  test('radosgw SIGKILLed during a multipart put: a clear error, nothing listed, earlier packs intact; restarted, puts work again', async () => {
    const events: S3Event[] = [];
    let killing: Promise<void> | undefined;
    const backend = await S3Backend.open(optionsFor('killed/', {
      multipartThreshold: 5 * mebibyte, partSize: 5 * mebibyte, partConcurrency: 2,
      retryPolicy: { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 400 },
      onEvent: (event) => {
        events.push(event);
        // The first part is in; the second is on the wire: kill the gateway now (process.kill runs at once).
        if (event.type === 'part-uploaded' && killing === undefined) killing = cluster.killGateway();
      },
    }));
    try {
      const earlier = newName();
      const earlierContent = testBytes('earlier', mebibyte);
      await backend.putPack(earlier, await stage(staging.folder, earlierContent));

      const name = newName();
      const staged = await stage(staging.folder, testBytes('killed', 40 * mebibyte));
      await assert.rejects(backend.putPack(name, staged), (error: unknown) => {
        assert.ok(error instanceof S3RequestError, String(error));
        assert.equal(error.code, 'IO');
        assert.match(error.message, new RegExp(`^s3 (upload-part|head|complete-upload) s3://${bucket}/killed/packs/${name.slice(0, 2)}/${name}: `
          + 'no answer from http://127\\.0\\.0\\.1:\\d+ \\((ECONNREFUSED|ECONNRESET|EPIPE)'));
        return true;
      });
      await killing;
      assert.equal(existsSync(staged), true, 'a rejected put leaves its staged file');
      assert.ok(events.some((event) => event.type === 'abort-failed'), 'the abort could not reach the dead gateway');
      assert.ok(events.some((event) => event.type === 'retry'), 'transient failures were retried');

      await cluster.startGateway();
      assert.deepEqual(await collect(backend.listPacks()), [{ name: earlier, size: earlierContent.length }], 'the failed put left no object');
      await assert.rejects(backend.readRange(name, 0, 1), NotFoundError);
      assert.deepEqual(await backend.readRange(earlier, 0, earlierContent.length), earlierContent);
      assert.equal(await backend.abortIncompleteUploads(0), 1, 'the abandoned upload is found and aborted');

      const again = newName();
      await backend.putPack(again, staged);
      assert.equal(existsSync(staged), false);
      assert.deepEqual(await backend.readRange(again, 40 * mebibyte - 10, 10), testBytes('killed', 40 * mebibyte).subarray(-10));
    } finally {
      await backend.close();
    }
  });

  test('a gateway restart within the retry budget is ridden out: the put succeeds', async () => {
    let restarting: Promise<void> | undefined;
    const backend = await S3Backend.open(optionsFor('restart/', {
      retryPolicy: { maxAttempts: 14, baseDelayMs: 250, maxDelayMs: 2000 },
      onEvent: (event) => {
        if (event.type === 'retry' && restarting === undefined) restarting = cluster.startGateway();
      },
    }));
    try {
      await cluster.killGateway();
      const name = newName();
      const content = testBytes('restart', 3 * mebibyte);
      await backend.putPack(name, await stage(staging.folder, content));
      await restarting;
      assert.ok(backend.stats().put.retries >= 1);
      assert.deepEqual(await backend.readRange(name, 0, content.length), content);
    } finally {
      await restarting?.catch(() => undefined);
      await backend.close();
    }
  });

  test('a gateway that stops answering (SIGSTOP) fails the request at the socket timeout, retried; thawed, it serves again', async () => {
    const retries: S3Event[] = [];
    const backend = await S3Backend.open(optionsFor('frozen/', {
      socketTimeoutMs: 1500, retryPolicy: { maxAttempts: 2, baseDelayMs: 100, maxDelayMs: 100 },
      onEvent: (event) => retries.push(event),
    }));
    const name = newName();
    const content = testBytes('frozen', 100_000);
    try {
      await backend.putPack(name, await stage(staging.folder, content));
      await cluster.freezeGateway();
      try {
        await assert.rejects(backend.readRange(name, 0, 1000), (error: unknown) => {
          assert.ok(error instanceof S3RequestError, String(error));
          assert.match(error.message, new RegExp(`^s3 get s3://${bucket}/frozen/packs/${name.slice(0, 2)}/${name}: no answer from http://127\\.0\\.0\\.1:\\d+ .*after 2 attempts`));
          return true;
        });
      } finally {
        await cluster.thawGateway();
      }
      assert.equal(retries.filter((event) => event.type === 'retry').length, 1);
      assert.deepEqual(await backend.readRange(name, 0, content.length), content);
    } finally {
      await backend.close();
    }
  });

  test('an answer lost after the service stored the object: the retry recognises our own object, never a foreign one', async () => {
    const gatewayPort = Number(new URL(cluster.endpoint).port);
    const proxy = await startCuttingProxy(gatewayPort);
    const backend = await S3Backend.open(optionsFor('lost/', {
      endpoint: `http://127.0.0.1:${proxy.port}`, multipartThreshold: 5 * mebibyte, partSize: 5 * mebibyte,
      retryPolicy: { maxAttempts: 4, baseDelayMs: 50, maxDelayMs: 200 },
    }));
    const keyPattern = (name: string): string => `/${bucket}/lost/packs/${name.slice(0, 2)}/${name}`;
    try {
      // A single PUT: stored, answer lost, retried; the retry's 412 is our own bytes (same size and MD5).
      const single = newName();
      const singleContent = testBytes('lost single', 2 * mebibyte);
      proxy.cutNext({ request: new RegExp(`^PUT ${keyPattern(single)}[ ?]`), answer: /^HTTP\/1\.1 200/ });
      await backend.putPack(single, await stage(staging.folder, singleContent));
      assert.equal(proxy.cuts, 1);
      assert.deepEqual([backend.stats().put.requests, backend.stats().put.retries], [2, 1]);
      assert.deepEqual(await backend.readRange(single, 0, singleContent.length), singleContent);

      // A multipart Complete: completed, answer lost, retried; the object is checked against the parts' ETag.
      const multipart = newName();
      const multipartContent = testBytes('lost multipart', 12 * mebibyte);
      proxy.cutNext({ request: new RegExp(`^POST ${keyPattern(multipart)}\\?uploadId=`), answer: /^HTTP\/1\.1 200/ });
      await backend.putPack(multipart, await stage(staging.folder, multipartContent));
      assert.equal(proxy.cuts, 2);
      assert.equal(backend.stats()['complete-upload'].requests, 2);
      assert.deepEqual(await backend.readRange(multipart, 0, multipartContent.length), multipartContent);

      // A name that exists with other bytes: the 412 answer itself is lost, the retry's 412 is not ours.
      const foreign = newName();
      const foreignContent = testBytes('foreign', 1000);
      await backend.putPack(foreign, await stage(staging.folder, foreignContent));
      proxy.cutNext({ request: new RegExp(`^PUT ${keyPattern(foreign)}[ ?]`), answer: /^HTTP\/1\.1 412/ });
      await assert.rejects(backend.putPack(foreign, await stage(staging.folder, testBytes('not foreign', 1000))), ObjectExistsError);
      assert.equal(proxy.cuts, 3);
      assert.deepEqual(await backend.readRange(foreign, 0, 1000), foreignContent);
    } finally {
      await backend.close();
      await proxy.close();
    }
  });

  test('a wrong secret is a clear authentication error naming the operation and bucket, never the secret, not retried', async () => {
    const right = loadS3Credentials(cluster.credentialsFile);
    const wrongSecret = 'not-the-secret-0123456789abcdefghijklmn';
    const wrong = new S3Credentials(right.accessKeyId, wrongSecret, 's3_credentials_file /etc/cpsbackup/s3.credentials');
    const authFailure = (operation: string) => (error: unknown): boolean => {
      assert.ok(error instanceof S3AuthError && error instanceof AuthError, String(error));
      assert.equal(error.code, 'AUTH');
      assert.match(error.message, new RegExp(`^s3 ${operation} s3://${bucket}/`));
      assert.match(error.message, /access denied by http:\/\/127\.0\.0\.1:\d+ \(\w+, HTTP 403\); check the access key and secret in s3_credentials_file \/etc\/cpsbackup\/s3.credentials/);
      assert.equal(error.message.includes(wrongSecret) || error.message.includes(right.forSigning().secretAccessKey), false);
      return true;
    };
    await assert.rejects(S3Backend.open({ ...optionsFor('auth/'), credentials: wrong }), authFailure('head-bucket'));
    const backend = new S3Backend({ ...optionsFor('auth/'), credentials: wrong });
    try {
      const staged = await stage(staging.folder, testBytes('auth', 100));
      await assert.rejects(backend.putPack(newName(), staged), authFailure('put'));
      assert.equal(existsSync(staged), true);
      await assert.rejects(backend.readRange(newName(), 0, 10), authFailure('get'), 'a refused read is not "missing"');
      await assert.rejects(collect(backend.listPacks()), authFailure('list'));
      assert.deepEqual([backend.stats().put.requests, backend.stats().put.retries], [1, 0]);
    } finally {
      await backend.close();
    }
    const unknownKey = new S3Credentials('NOSUCHACCESSKEY00000', wrongSecret, 'AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY');
    await assert.rejects(S3Backend.open({ ...optionsFor('auth/'), credentials: unknownKey }), S3AuthError);
  });
});
