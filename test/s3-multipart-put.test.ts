// The multipart put against answers Ceph here never gives: part ETags that are not the MD5 of the part
// (AWS with SSE-KMS or SSE-C), a final ETag that matches nothing we know, and If-None-Match honoured on
// Complete after a lost answer. The S3 client is stubbed at the command level; the put code is the real one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { putMultipart } from '../src/chunkstore/backend/s3/multipart-put';
import { S3RequestError } from '../src/chunkstore/backend/s3/s3-errors';
import { connectionError, serviceError, stubS3, type CommandAnswer } from './support/s3-stub';
import { testBytes } from './support/test-bytes';

const mebibyte = 1024 * 1024;
const key = 'site/packs/ab/abcdef';
const settings = { partSize: 5 * mebibyte, partConcurrency: 2, onEvent: undefined };

async function stagedFile(t: { after(fn: () => Promise<void>): void }, size: number): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), 's3-multipart-'));
  t.after(() => rm(folder, { recursive: true, force: true }));
  const file = join(folder, 'staged');
  await writeFile(file, testBytes('multipart', size));
  return file;
}

/** S3's rule for a multipart object's ETag: MD5 of the binary part ETags, "-", the part count. */
function etagOfParts(partEtags: readonly string[]): string {
  const digests = partEtags.map((etag) => Buffer.from(etag.replace(/"/g, ''), 'hex'));
  return `${createHash('md5').update(Buffer.concat(digests)).digest('hex')}-${digests.length}`;
}

/** A bucket holding at most our one object, whose part ETags are random as under SSE-KMS. */
interface StubObject {
  readonly size: number;
  readonly etag: string;
}

function kmsBucket(overrides: Record<string, CommandAnswer> = {}): {
  answers: Record<string, CommandAnswer>; object(): StubObject | undefined; place(object: StubObject): void;
} {
  let object: StubObject | undefined;
  const parts = new Map<number, { etag: string; size: number }>();
  const answers: Record<string, CommandAnswer> = {
    HeadObjectCommand: () => {
      if (object === undefined) throw serviceError(404, 'NotFound');
      return { ContentLength: object.size, ETag: `"${object.etag}"` };
    },
    CreateMultipartUploadCommand: () => ({ UploadId: 'upload-1' }),
    UploadPartCommand: (input) => {
      const etag = `"${randomBytes(16).toString('hex')}"`;
      parts.set(input.PartNumber as number, { etag, size: input.ContentLength as number });
      return { ETag: etag };
    },
    CompleteMultipartUploadCommand: (input) => {
      const listed = (input.MultipartUpload as { Parts: { PartNumber: number; ETag: string }[] }).Parts;
      for (const part of listed) assert.equal(part.ETag, parts.get(part.PartNumber)?.etag, 'Complete names the parts by the ETags the service gave');
      object = { size: [...parts.values()].reduce((sum, part) => sum + part.size, 0), etag: etagOfParts(listed.map((part) => part.ETag)) };
      return {};
    },
    AbortMultipartUploadCommand: () => ({}),
    DeleteObjectCommand: () => {
      object = undefined;
      return {};
    },
    ...overrides,
  };
  return { answers, object: () => object, place: (placed) => { object = placed; } };
}

// Regression: the expected ETag was the MD5 of our own part MD5s, so on an SSE-KMS bucket every
// multipart put found a "mismatch", deleted the object it had just stored and failed.
test('part ETags that are not MD5s of the data (SSE-KMS): the object is checked against them and kept', async (t) => {
  const bucket = kmsBucket();
  const s3 = stubS3(bucket.answers);
  const size = 12 * mebibyte + 7;
  assert.equal(await putMultipart(s3.requester, key, await stagedFile(t, size), size, settings), 'created');
  assert.equal(s3.named('UploadPartCommand').length, 3);
  assert.equal(s3.named('DeleteObjectCommand').length, 0, 'nothing deleted');
  assert.equal(bucket.object()?.size, size);
});

// Regression: a final ETag we could not reproduce deleted the object, although each part's Content-MD5
// had already proven its bytes.
test('a final ETag that matches nothing we expect fails the put but deletes nothing; a wrong size is removed', async (t) => {
  const size = 6 * mebibyte;
  const file = await stagedFile(t, size);
  const odd = kmsBucket();
  const oddEtag = kmsBucket({
    HeadObjectCommand: (input, sent) => {
      const isAfterComplete = sent.some((command) => command.name === 'CompleteMultipartUploadCommand');
      if (!isAfterComplete) return odd.answers.HeadObjectCommand(input, sent);
      return { ContentLength: size, ETag: `"${'0'.repeat(32)}-2"` };
    },
  });
  const s3 = stubS3(oddEtag.answers);
  await assert.rejects(putMultipart(s3.requester, key, file, size, settings), (error: unknown) => {
    assert.ok(error instanceof S3RequestError, String(error));
    assert.equal(error.s3Code, 'UploadMismatch');
    assert.match(error.message, /ETag 0{32}-2, expected 6291456 bytes, ETag [0-9a-f]{32}-2; the object is left in place$/);
    return true;
  });
  assert.equal(s3.named('DeleteObjectCommand').length, 0, 'an ETag mismatch alone deletes nothing');

  const shortBucket = kmsBucket({
    HeadObjectCommand: (_input, sent) => {
      if (!sent.some((command) => command.name === 'CompleteMultipartUploadCommand')) throw serviceError(404, 'NotFound');
      return { ContentLength: size - 1, ETag: '"whatever"' };
    },
  });
  const short = stubS3(shortBucket.answers);
  await assert.rejects(putMultipart(short.requester, key, file, size, settings), /holds 6291455 bytes/);
  assert.equal(short.named('DeleteObjectCommand').length, 1, 'an object of the wrong size is ours and wrong: removed');
});


/** Complete as on a service that honours If-None-Match on it (AWS): the first answer is lost, every retry meets 412. */
function loseFirstCompleteAnswer(bucket: ReturnType<typeof kmsBucket>, meanwhile: 'completed' | 'foreign object'): void {
  const complete = bucket.answers.CompleteMultipartUploadCommand;
  let attempts = 0;
  bucket.answers.CompleteMultipartUploadCommand = (input, sent) => {
    attempts += 1;
    if (attempts > 1) throw serviceError(412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
    if (meanwhile === 'completed') complete(input, sent);
    else bucket.place({ size: 1000, etag: `${'f'.repeat(32)}-1` });
    throw connectionError();
  };
}

// Regression: a retried Complete after a lost answer that met 412 returned 'exists' without looking,
// so a put that had in fact succeeded failed and left its object behind as an orphan.
test('a Complete whose answer was lost, retried into 412: our own object is accepted, a foreign one is not', async (t) => {
  const size = 6 * mebibyte;
  const file = await stagedFile(t, size);
  const ours = kmsBucket();
  loseFirstCompleteAnswer(ours, 'completed');
  const s3 = stubS3(ours.answers);
  assert.equal(await putMultipart(s3.requester, key, file, size, settings), 'created');
  assert.equal(s3.named('CompleteMultipartUploadCommand').length, 2);
  assert.equal(s3.named('DeleteObjectCommand').length, 0);
  assert.equal(ours.object()?.size, size);

  const theirs = kmsBucket();
  loseFirstCompleteAnswer(theirs, 'foreign object');
  const other = stubS3(theirs.answers);
  assert.equal(await putMultipart(other.requester, key, file, size, settings), 'exists');
  assert.equal(other.named('AbortMultipartUploadCommand').length, 1, 'our upload is aborted');
  assert.deepEqual(theirs.object(), { size: 1000, etag: `${'f'.repeat(32)}-1` }, 'the foreign object stays');
});

// Regression (review): after a lost Complete answer, the retry's 412 compared our multipart ETag with the
// object's whatever its form, while the upload's own check compares only an ETag of the "hex32-N" form: on a
// gateway whose object ETags are plain (SSE-C on some), our own object was taken for a foreign one.
test('a Complete whose answer was lost, on a service whose object ETags are not multipart-shaped: our object is accepted by its size', async (t) => {
  const size = 6 * mebibyte;
  const file = await stagedFile(t, size);
  const bucket = kmsBucket();
  loseFirstCompleteAnswer(bucket, 'completed');
  const head = bucket.answers.HeadObjectCommand;
  bucket.answers.HeadObjectCommand = (input, sent) => {
    const answer = head(input, sent) as { ContentLength: number; ETag: string };
    return { ...answer, ETag: `"${randomBytes(16).toString('hex')}"` };
  };
  const s3 = stubS3(bucket.answers);
  assert.equal(await putMultipart(s3.requester, key, file, size, settings), 'created');
  assert.equal(s3.named('AbortMultipartUploadCommand').length, 0);
  assert.equal(s3.named('DeleteObjectCommand').length, 0);
});
