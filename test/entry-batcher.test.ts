// A batch of entries must fit in one gRPC message (4 MiB) whatever the entries carry: inline
// content on upload, stored chunks or chunk hashes on restore. A restore of a tree of small
// incompressible files failed with "Sent message larger than max" when chunks were not counted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { EntryBatcher } from '../src/common/wire/entry-batcher';
import { BatchedEntry, EntryBatch } from '../src/proto/cpsbackup';
import { maxMessageBytes } from '../src/common/tls/credentials';
import { INLINE_MAX_CONTENT } from '../src/common/wire/fast-service';

const KIB = 1024;

/** Feeds the batcher and returns the encoded size of each batch it sent. */
async function batchSizes(entries: readonly BatchedEntry[]): Promise<number[]> {
  const sizes: number[] = [];
  let sent = 0;
  const batcher = new EntryBatcher((batch) => {
    sizes.push(EntryBatch.encode(batch).finish().length);
    sent += batch.entries.length;
    return Promise.resolve();
  });
  for (const entry of entries) await batcher.add(entry);
  await batcher.flush();
  assert.equal(sent, entries.length, 'every entry was sent once');
  return sizes;
}

function fileEntry(index: number, fields: Partial<BatchedEntry>): BatchedEntry {
  return BatchedEntry.fromPartial({ meta: { path: Buffer.from(`/srv/data/file-${index}`), size: 1 }, ...fields });
}

test('batches of restored small files carried as stored chunks stay under the message limit', async () => {
  // Files just under the inline limit, each as eight incompressible 124 KiB chunks.
  const entries = Array.from({ length: 40 }, (_, index) => fileEntry(index, {
    sha256: randomBytes(32),
    chunks: Array.from({ length: 8 }, () => ({ hash: randomBytes(32), rawSize: 124 * KIB, codec: 0, payload: randomBytes(124 * KIB) })),
  }));
  const sizes = await batchSizes(entries);
  assert.ok(sizes.length >= 20, `about two files per batch, got ${sizes.length} batches`);
  for (const size of sizes) assert.ok(size <= maxMessageBytes / 2, `a batch of ${size} bytes`);
});

test('batches of inline content and of chunk hash lists stay under the message limit', async () => {
  const inline = Array.from({ length: 20 }, (_, index) => fileEntry(index, { content: randomBytes(INLINE_MAX_CONTENT) }));
  const hashLists = Array.from({ length: 2000 }, (_, index) => fileEntry(index, { chunkHashes: randomBytes(32 * 300) }));
  for (const sizes of [await batchSizes(inline), await batchSizes(hashLists)]) {
    for (const size of sizes) assert.ok(size <= maxMessageBytes / 2, `a batch of ${size} bytes`);
  }
});

test('many tiny entries still go 1,024 to a batch', async () => {
  const sizes = await batchSizes(Array.from({ length: 3000 }, (_, index) => fileEntry(index, {})));
  assert.equal(sizes.length, 3);
});
