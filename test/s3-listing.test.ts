// A listing of the bucket ends only when the service says it is complete: a page that says "truncated"
// without a way on (a buggy gateway or proxy) is an I/O error naming bucket and prefix, never the end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { listKeys } from '../src/chunkstore/backend/s3/listing';
import { S3RequestError } from '../src/chunkstore/backend/s3/s3-errors';
import { stubS3, type SentCommand } from './support/s3-stub';

async function keysOf(listing: AsyncIterable<{ key: string }>): Promise<string[]> {
  const keys: string[] = [];
  for await (const listed of listing) keys.push(listed.key);
  return keys;
}

function page(keys: string[], next: { IsTruncated?: boolean; NextContinuationToken?: string }): unknown {
  return { Contents: keys.map((Key) => ({ Key, Size: 1, LastModified: new Date(0) })), ...next };
}

const brokenListing = (error: unknown): boolean => {
  assert.ok(error instanceof S3RequestError, String(error));
  assert.equal(error.code, 'IO');
  assert.match(error.message, /^s3 list s3:\/\/stub-bucket\/site\/packs\/: /);
  return true;
};

test('pages are followed by their continuation tokens to the end', async () => {
  const s3 = stubS3({
    ListObjectsV2Command: (input) => (input.ContinuationToken === undefined
      ? page(['site/packs/aa/aa1'], { IsTruncated: true, NextContinuationToken: 't1' })
      : page(['site/packs/bb/bb1'], { IsTruncated: false })),
  });
  assert.deepEqual(await keysOf(listKeys(s3.requester, 'site/packs/')), ['site/packs/aa/aa1', 'site/packs/bb/bb1']);
});

// Regression: IsTruncated without NextContinuationToken ended the loop, the listing was taken as
// complete, and check marked every unlisted pack's chunks damaged for good.
test('a truncated page without a continuation token is an I/O error, not the end of the listing', async () => {
  const s3 = stubS3({ ListObjectsV2Command: () => page(['site/packs/aa/aa1'], { IsTruncated: true }) });
  await assert.rejects(keysOf(listKeys(s3.requester, 'site/packs/')), (error: unknown) => brokenListing(error)
    && /truncated page came without a continuation token/.test((error as Error).message));
});

test('a continuation token that comes back is an I/O error, not an endless loop', async () => {
  const s3 = stubS3({
    ListObjectsV2Command: (input, sent: readonly SentCommand[]) => {
      assert.ok(sent.length < 10, 'the listing loops');
      return page([`site/packs/aa/aa${sent.length}`], { IsTruncated: true, NextContinuationToken: input.ContinuationToken === undefined ? 't1' : 't2' });
    },
  });
  await assert.rejects(keysOf(listKeys(s3.requester, 'site/packs/')), (error: unknown) => brokenListing(error)
    && /continuation token "t2" came twice/.test((error as Error).message));
  assert.equal(s3.named('ListObjectsV2Command').length, 3);
});

// Regression (review of the short-pack check): a key listed without its size was taken as 0 bytes, so a
// gateway that leaves sizes out made every pack short and the start marked all their chunks damaged.
test('a key listed without its size is an I/O error, not an empty object', async () => {
  const s3 = stubS3({ ListObjectsV2Command: () => ({ Contents: [{ Key: 'site/packs/aa/aa1', LastModified: new Date(0) }], IsTruncated: false }) });
  await assert.rejects(keysOf(listKeys(s3.requester, 'site/packs/')), (error: unknown) => brokenListing(error)
    && /the key "site\/packs\/aa\/aa1" came without its size/.test((error as Error).message));
});
