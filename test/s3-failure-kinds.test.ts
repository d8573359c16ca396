// Which S3 failures are retried and what they are reported as, for answers Ceph here never gives: a clock
// too far off (403 RequestTimeTooSkewed), bytes damaged on the way (400 BadDigest), and a Range GET answered
// with fewer bytes than asked although the object goes on. The client is stubbed at the command level.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { headObject } from '../src/chunkstore/backend/s3/object-head';
import { readObjectRange } from '../src/chunkstore/backend/s3/range-read';
import { S3AuthError, S3RequestError } from '../src/chunkstore/backend/s3/s3-errors';
import { putSingle } from '../src/chunkstore/backend/s3/single-put';
import { CorruptError } from '../src/common/errors';
import { serviceError, stubS3 } from './support/s3-stub';
import { testBytes } from './support/test-bytes';

const key = 'site/packs/ab/abcdef';

// Regression: a skew that outlasted the retries became an S3AuthError telling the operator to check the keys.
test('a clock too far off is retried, then reported as the clock\'s fault, never as wrong keys', async () => {
  const s3 = stubS3({ HeadObjectCommand: () => { throw serviceError(403, 'RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.'); } });
  await assert.rejects(headObject(s3.requester, key), (error: unknown) => {
    assert.ok(error instanceof S3RequestError && !(error instanceof S3AuthError), String(error));
    assert.equal(error.code, 'IO');
    assert.match(error.message, /^s3 head s3:\/\/stub-bucket\/site\/packs\/ab\/abcdef: http:\/\/stub\.invalid refused the request's time \(RequestTimeTooSkewed, HTTP 403\): this machine's clock differs .*set the clock right \(NTP\) \(after 4 attempts\)$/);
    assert.doesNotMatch(error.message, /access key|secret/);
    return true;
  });
  assert.equal(s3.named('HeadObjectCommand').length, 4, 'retried: the SDK corrects its clock offset from the answer');
});

// Regression (S3 review, on Ceph with a bucket quota): the backup failed, rightly, but told the operator to check the keys.
test('a quota refusal (403 QuotaExceeded) is reported as the quota, never as wrong keys', async (t) => {
  const folder = await mkdtemp(join(tmpdir(), 's3-kinds-'));
  t.after(() => rm(folder, { recursive: true, force: true }));
  const file = join(folder, 'staged');
  await writeFile(file, testBytes('quota', 1_000));
  const s3 = stubS3({ PutObjectCommand: () => { throw serviceError(403, 'QuotaExceeded', ''); } });
  await assert.rejects(putSingle(s3.requester, key, file, 1_000), (error: unknown) => {
    assert.ok(error instanceof S3RequestError && !(error instanceof S3AuthError), String(error));
    assert.match(error.message, /quota of bucket stub-bucket or its user is exceeded \(QuotaExceeded, HTTP 403\); raise the quota, or free space/);
    assert.doesNotMatch(error.message, /access key|secret/);
    return true;
  });
});

// Regression: BadDigest was final, though the service stored nothing and another attempt re-sends the bytes.
test('BadDigest (bytes damaged on the way) is retried, and the next attempt stores the object', async (t) => {
  const folder = await mkdtemp(join(tmpdir(), 's3-kinds-'));
  t.after(() => rm(folder, { recursive: true, force: true }));
  const file = join(folder, 'staged');
  await writeFile(file, testBytes('bad digest', 10_000));
  let puts = 0;
  const s3 = stubS3({
    PutObjectCommand: () => {
      puts += 1;
      if (puts === 1) throw serviceError(400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.');
      return {};
    },
  });
  assert.equal(await putSingle(s3.requester, key, file, 10_000), 'created');
  assert.equal(s3.metrics.snapshot().put.retries, 1);
});

function rangeAnswer(content: Buffer, start: number, end: number): unknown {
  return { ContentRange: `bytes ${start}-${end}/${content.length}`, Body: Readable.from([content.subarray(start, end + 1)]), $metadata: { httpStatusCode: 206 } };
}

// Regression: a Content-Range shorter than asked, while its total showed the object goes on, became
// CorruptError: a proxy cutting a range made a healthy pack look damaged.
test('a short answered range is retried; a range past the object\'s end is corruption', async () => {
  const content = testBytes('object', 100);
  let gets = 0;
  const cutOnce = stubS3({
    GetObjectCommand: () => {
      gets += 1;
      return gets === 1 ? rangeAnswer(content, 10, 19) : rangeAnswer(content, 10, 39);
    },
  });
  assert.deepEqual(await readObjectRange(cutOnce.requester, key, 10, 30), content.subarray(10, 40));
  assert.equal(cutOnce.metrics.snapshot().get.retries, 1);

  const alwaysCut = stubS3({ GetObjectCommand: () => rangeAnswer(content, 10, 19) });
  await assert.rejects(readObjectRange(alwaysCut.requester, key, 10, 30), (error: unknown) => {
    assert.ok(error instanceof S3RequestError && !(error instanceof CorruptError), String(error));
    assert.match(error.message, /a short answer from http:\/\/stub\.invalid \(ShortRange: asked bytes 10-39 of 100, the service answered only "bytes 10-19\/100"\) \(after 4 attempts\)$/);
    return true;
  });

  const shortObject = stubS3({ GetObjectCommand: () => rangeAnswer(content, 90, 99) });
  await assert.rejects(readObjectRange(shortObject.requester, key, 90, 30), (error: unknown) => {
    assert.ok(error instanceof CorruptError, String(error));
    assert.match(error.message, /is 100 bytes; bytes 90-119 run past its end/);
    return true;
  });
  assert.equal(shortObject.named('GetObjectCommand').length, 1, 'a short object is not retried');
});
