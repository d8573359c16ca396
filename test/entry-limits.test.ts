// Proves what one backup entry's metadata may hold: an entry whose xattrs are more than a message can
// carry is named with a clear reason (the sender reports it and backs up the rest), one at the limit
// still fits in one message whatever surrounds it, and a path and MAX_EXTENTS extents always fit.
// Regression: a file with ~70 xattrs of 64 KiB (XFS allows it) went in one entry over the 4 MiB
// message limit and the whole backup failed. This machine's /tmp (ext4) keeps about 4 KiB of xattrs a
// file, so the real file is made on a tmpfs in e2e-oversized-metadata.test.ts; here the entries are built.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchedEntry, EntryBatch, EntryMeta, EntryType } from '../src/proto/cpsbackup';
import { entryMetadataProblem, MAX_ENTRY_METADATA_BYTES, MAX_EXTENTS } from '../src/common/entry-limits';
import { encodeEntryMeta } from '../src/common/wire/entry-meta-writer';
import { EntryBatcher } from '../src/common/wire/entry-batcher';
import { maxMessageBytes } from '../src/common/tls/credentials';
import { INLINE_MAX_CONTENT } from '../src/common/wire/fast-service';
import { MAX_ENTRY_PATH_BYTES } from '../src/common/entry-path';

const KIB = 1024;

function fileMeta(fields: Partial<EntryMeta>): EntryMeta {
  return EntryMeta.fromPartial({ path: Buffer.from('/srv/db/table.ibd'), type: EntryType.ENTRY_TYPE_FILE, mode: 0o100640, size: 10 ** 10, ...fields });
}

function xattrs(count: number, valueBytes: number): { name: Buffer; value: Buffer }[] {
  return Array.from({ length: count }, (_, index) => ({ name: Buffer.from(`user.attribute-${index}`), value: Buffer.alloc(valueBytes, index) }));
}

test('a file with 70 xattrs of 64 KiB is named as too big, with its size and the limit', () => {
  const meta = fileMeta({ xattrs: xattrs(70, 64 * KIB) });
  const problem = entryMetadataProblem(meta);
  const match = /^its extended attributes take (\d+) bytes, more than one backup entry can carry \((\d+)\)$/.exec(problem ?? '');
  assert.ok(match, problem);
  const [taken, carried] = [Number(match[1]), Number(match[2])];
  const withoutXattrs = encodeEntryMeta(fileMeta({})).length;
  assert.equal(taken, encodeEntryMeta(meta).length - withoutXattrs, 'the bytes its xattrs take when encoded');
  assert.equal(carried, MAX_ENTRY_METADATA_BYTES - withoutXattrs, 'what is left for xattrs beside its other metadata');
  assert.ok(taken > 70 * 64 * KIB && carried < taken);
});

test('ACLs and a few xattrs fit; so does metadata exactly at the limit, and one byte more does not', () => {
  const acl = { name: Buffer.from('system.posix_acl_access'), value: Buffer.alloc(44, 2) };
  assert.equal(entryMetadataProblem(fileMeta({ xattrs: [acl, ...xattrs(3, 200)] })), undefined);
  assert.equal(entryMetadataProblem(fileMeta({})), undefined);
  // One xattr whose value brings the entry to exactly MAX_ENTRY_METADATA_BYTES (its length varint is 3 bytes either way).
  const base = encodeEntryMeta(fileMeta({ xattrs: [{ name: Buffer.from('user.big'), value: Buffer.alloc(64 * KIB) }] })).length;
  const atLimit = fileMeta({ xattrs: [{ name: Buffer.from('user.big'), value: Buffer.alloc(64 * KIB + MAX_ENTRY_METADATA_BYTES - base) }] });
  assert.equal(encodeEntryMeta(atLimit).length, MAX_ENTRY_METADATA_BYTES);
  assert.equal(entryMetadataProblem(atLimit), undefined);
  const overLimit = fileMeta({ xattrs: [{ name: Buffer.from('user.big'), value: Buffer.alloc(atLimit.xattrs[0].value.length + 1) }] });
  assert.match(entryMetadataProblem(overLimit) ?? '', /^its extended attributes take \d+ bytes/);
});

test('the longest path and MAX_EXTENTS extents at the largest offsets always fit', () => {
  const path = Buffer.from(`/${'p'.repeat(MAX_ENTRY_PATH_BYTES - 1)}`);
  const top = 2 ** 52;
  const extents = Array.from({ length: MAX_EXTENTS }, (_, index) => [top + index * 2 ** 20, 2 ** 19]).flat();
  const meta = fileMeta({ path, size: top + MAX_EXTENTS * 2 ** 20, extents, user: 'u'.repeat(255), group: 'g'.repeat(255) });
  assert.ok(encodeEntryMeta(meta).length <= MAX_ENTRY_METADATA_BYTES, `${encodeEntryMeta(meta).length} bytes`);
  assert.equal(entryMetadataProblem(meta), undefined);
});

test('an entry at the limit, after a nearly full batch and with its inline content, stays in one message', async () => {
  const sizes: number[] = [];
  const batcher = new EntryBatcher((batch) => {
    sizes.push(EntryBatch.encode(batch).finish().length);
    return Promise.resolve();
  });
  // Small files of 1,000 bytes each up to just under the batch's own limit: none has gone yet.
  for (let index = 0; index < 950; index++) {
    await batcher.add(BatchedEntry.fromPartial({ meta: fileMeta({ path: Buffer.from(`/srv/small/${index}`), size: 1000 }), content: Buffer.alloc(1000, 1) }));
  }
  assert.equal(sizes.length, 0, 'the batch was still gathering');
  const base = encodeEntryMeta(fileMeta({ xattrs: [{ name: Buffer.from('user.big'), value: Buffer.alloc(64 * KIB) }] })).length;
  const atLimit = fileMeta({ xattrs: [{ name: Buffer.from('user.big'), value: Buffer.alloc(64 * KIB + MAX_ENTRY_METADATA_BYTES - base) }] });
  await batcher.add(BatchedEntry.fromPartial({ meta: atLimit, content: Buffer.alloc(INLINE_MAX_CONTENT, 2) }));
  await batcher.flush();
  assert.ok(sizes.length > 0);
  for (const size of sizes) assert.ok(size <= maxMessageBytes, `a batch of ${size} bytes, over the ${maxMessageBytes} a message may take`);
});
