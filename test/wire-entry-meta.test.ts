// Guards the hand-written EntryMeta codec: its bytes must equal what ts-proto writes and its decoding
// what ts-proto reads, for every field at its edges (negative times, 2^53 - 1, empty and unicode
// strings, names that are not UTF-8), and a value a field cannot hold must be refused as ts-proto
// refuses it, or an entry's metadata would arrive altered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testBytes } from './support/test-bytes';
import { decodeEntryMeta, decodeParentIndexEntry } from '../src/common/wire/entry-meta-reader';
import { encodeEntryMeta } from '../src/common/wire/entry-meta-writer';
import { deserializeParentBatch, deserializeParentIndexBatch, serializeParentBatch } from '../src/common/wire/parent-batch-codec';
import { EntryMeta, EntryType, ParentBatch } from '../src/proto/cpsbackup';
import { ProtocolError } from '../src/common/errors';
import { FieldReader } from '../src/common/wire/batch-codec';
import { entryMetaFromStat, safeInteger } from '../src/client/entry-meta';
import { OwnerNames } from '../src/client/posix/owners';
import { isAclAttribute } from '../src/common/acl-attributes';

function pick<T>(values: readonly T[], index: number): T {
  return values[index % values.length];
}

const UINT32 = [0, 1, 127, 128, 0o100644, 65_534, 2 ** 31, 2 ** 32 - 1];
const UINT64 = [0, 1, 127, 128, 16_383, 16_384, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 7, Number.MAX_SAFE_INTEGER];
// 15032385535: ext4's last second (2446); -2208988800: 1900-01-01.
const INT64 = [0, 1, -1, 127, -128, 1_700_000_000, -1_700_000_000, 2 ** 32, -(2 ** 32), -(2 ** 32) - 1, 15_032_385_535, -2_208_988_800,
  Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER];
const STRINGS = ['', 'alice', 'ünïcode ✓', '𝄞 beyond the BMP', 'x'.repeat(200)];
const BYTES = [Buffer.alloc(0), Buffer.from('/data/a'), Buffer.from([0, 0xff, 0x80, 0x2f]), testBytes('entry-meta', 300)];

function sample(index: number): EntryMeta {
  return {
    path: pick(BYTES, index), type: pick([0, EntryType.ENTRY_TYPE_FILE, EntryType.ENTRY_TYPE_DIRECTORY, EntryType.ENTRY_TYPE_SYMLINK], index),
    mode: pick(UINT32, index), uid: pick(UINT32, index + 1), gid: pick(UINT32, index + 2),
    mtimeSec: pick(INT64, index), mtimeNsec: pick([0, 1, 999_999_999], index), ctimeSec: pick(INT64, index + 3), ctimeNsec: pick([0, 5, 123_456_789], index),
    inode: pick(UINT64, index), device: pick(UINT64, index + 1), size: pick(UINT64, index + 2),
    linkTarget: pick(BYTES, index + 1), user: pick(STRINGS, index), group: pick(STRINGS, index + 1), nlink: pick(UINT32, index + 3),
    rdev: pick(UINT64, index + 3),
    xattrs: index % 3 === 0 ? [] : [{ name: Buffer.from('user.x'), value: pick(BYTES, index) }, { name: Buffer.from('system.posix_acl_access'), value: Buffer.alloc(0) }],
    extents: index % 4 === 0 ? [] : [0, pick(UINT64, index), pick(UINT64, index + 5), 0],
    hardlinkTarget: pick(BYTES, index + 2), inodeFlags: pick(UINT32, index + 4), inodeFlagsKnown: index % 2 === 0, damage: pick(STRINGS, index + 2),
  };
}

test('encodeEntryMeta writes the bytes ts-proto writes, for every field at its edges', () => {
  for (let index = 0; index < 500; index++) {
    const meta = sample(index);
    assert.deepEqual(encodeEntryMeta(meta), Buffer.from(EntryMeta.encode(meta).finish()), `sample ${index}`);
  }
});

test('decodeEntryMeta reads what ts-proto reads, inside a larger buffer too', () => {
  for (let index = 0; index < 500; index++) {
    const bytes = Buffer.from(EntryMeta.encode(sample(index)).finish());
    const expected = EntryMeta.decode(bytes);
    assert.deepEqual(decodeEntryMeta(bytes), expected, `sample ${index}`);
    const framed = Buffer.concat([testBytes(`before ${index}`, 7), bytes, testBytes(`after ${index}`, 5)]);
    assert.deepEqual(decodeEntryMeta(framed, 7, 7 + bytes.length), expected, `sample ${index}, framed`);
  }
});

test('decodeEntryMeta copies bytes: the entry does not pin or share the message it came in', () => {
  const bytes = encodeEntryMeta(sample(1));
  const decoded = decodeEntryMeta(bytes);
  bytes.fill(0);
  assert.deepEqual(decoded.path, sample(1).path);
});

test('decodeEntryMeta skips unknown fields and reads unpacked extents, as protobuf does', () => {
  const meta = sample(5);
  const known = encodeEntryMeta(meta);
  // field 30 varint, field 31 fixed64, field 32 length-delimited, field 33 fixed32
  const unknown = Buffer.from([0xf0, 0x01, 0x96, 0x01, 0xf9, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 0x82, 0x02, 2, 9, 9, 0x8d, 0x02, 1, 2, 3, 4]);
  const withUnknown = Buffer.concat([unknown, known, unknown]);
  assert.deepEqual(decodeEntryMeta(withUnknown), EntryMeta.decode(withUnknown));
  const unpacked = Buffer.from([0x98, 0x01, 0x05, 0x98, 0x01, 0x80, 0x01]); // extents = 5, extents = 128, one varint each
  assert.deepEqual(decodeEntryMeta(unpacked).extents, [5, 128]);
  assert.deepEqual(decodeEntryMeta(unpacked), EntryMeta.decode(unpacked));
});

test('decodeEntryMeta refuses what cannot be an entry with a ProtocolError, never a wrong number', () => {
  const tooBig = Buffer.from([0x60, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10]); // size = 2^53
  assert.throws(() => decodeEntryMeta(tooBig), (error: unknown) => error instanceof ProtocolError && /size is larger than 2\^53/.test(error.message));
  assert.throws(() => EntryMeta.decode(tooBig), 'ts-proto refuses it too');
  const tooSmall = Buffer.from([0x30, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0xf0, 0xff, 0x01]); // mtime = -2^53
  assert.throws(() => decodeEntryMeta(tooSmall), (error: unknown) => error instanceof ProtocolError && /mtime is -2\^53 or smaller/.test(error.message));
  const full = encodeEntryMeta(sample(3));
  for (let cut = 1; cut < full.length; cut++) {
    let decoded: EntryMeta | undefined;
    try {
      decoded = decodeEntryMeta(full, 0, cut);
    } catch (error) {
      assert.ok(error instanceof ProtocolError, `cut at ${cut}: ${String(error)}`);
      continue;
    }
    // A cut between two fields is a shorter valid message: it must read as ts-proto reads it.
    assert.deepEqual(decoded, EntryMeta.decode(full.subarray(0, cut)), `cut at ${cut}`);
  }
  assert.throws(() => decodeEntryMeta(Buffer.from([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])), ProtocolError);
});

test('ParentBatch: the hand-written codec writes and reads what ts-proto does, empty or full', () => {
  const batches: ParentBatch[] = [
    { backupId: 0, entries: [], acceptsBatches: true, acceptsCarriedRuns: true, damaged: [], keepsInodeFlags: true },
    { backupId: 0, entries: [], acceptsBatches: false, acceptsCarriedRuns: false, damaged: [], keepsInodeFlags: false },
    { backupId: 300, entries: Array.from({ length: 50 }, (_, index) => sample(index)), acceptsBatches: true, acceptsCarriedRuns: true, damaged: [], keepsInodeFlags: true },
    { backupId: 302, entries: Array.from({ length: 200 }, (_, index) => sample(index)), acceptsBatches: true, acceptsCarriedRuns: true, damaged: [0, 1, 127, 128, 199], keepsInodeFlags: true },
    { backupId: 301, entries: [sample(3)], acceptsBatches: true, acceptsCarriedRuns: false, damaged: [0], keepsInodeFlags: true },
    { backupId: Number.MAX_SAFE_INTEGER, entries: [sample(7)], acceptsBatches: false, acceptsCarriedRuns: false, damaged: [], keepsInodeFlags: true },
  ];
  for (const batch of batches) {
    const expected = Buffer.from(ParentBatch.encode(batch).finish());
    assert.deepEqual(serializeParentBatch(batch), expected, `backup ${batch.backupId}, ${batch.entries.length} entries`);
    assert.deepEqual(deserializeParentBatch(expected), ParentBatch.decode(expected));
  }
  // Unpacked, as an older writer may send a repeated number: read the same.
  const unpacked = Buffer.from([5 << 3, 3, 5 << 3, 200, 1]);
  assert.deepEqual(deserializeParentBatch(unpacked).damaged, [3, 200]);
  assert.deepEqual(ParentBatch.decode(unpacked).damaged, [3, 200]);
});

test('the parent index\'s reader keeps exactly what ts-proto reads of the fields it keeps, the path as latin1', () => {
  // Of the attributes, the ACLs and their names alone (an older server sends every attribute).
  const aclXattrsOf = (meta: EntryMeta): EntryMeta['xattrs'] | undefined => {
    const acls = meta.xattrs.filter((xattr) => isAclAttribute(xattr.name));
    return acls.length === 0 ? undefined : acls;
  };
  const kept = (meta: EntryMeta): Record<string, unknown> => ({
    key: meta.path.toString('latin1'), type: meta.type, mode: meta.mode, size: meta.size, mtimeSec: meta.mtimeSec, mtimeNsec: meta.mtimeNsec,
    ctimeSec: meta.ctimeSec, ctimeNsec: meta.ctimeNsec, inode: meta.inode, uid: meta.uid, gid: meta.gid, user: meta.user, group: meta.group,
    device: meta.device, nlink: meta.nlink, inodeFlagsKnown: meta.inodeFlagsKnown, aclXattrs: aclXattrsOf(meta), rank: 0,
  });
  for (let index = 0; index < 500; index++) {
    const bytes = Buffer.from(EntryMeta.encode(sample(index)).finish());
    const framed = Buffer.concat([testBytes(`before ${index}`, 7), bytes, testBytes(`after ${index}`, 5)]);
    assert.deepEqual(decodeParentIndexEntry(framed, 7, 7 + bytes.length), kept(EntryMeta.decode(bytes)), `sample ${index}`);
  }
  const batch: ParentBatch = { backupId: 302, entries: Array.from({ length: 200 }, (_, index) => sample(index)), acceptsBatches: true,
    acceptsCarriedRuns: true, damaged: [0, 127, 199], keepsInodeFlags: false };
  const read = deserializeParentIndexBatch(serializeParentBatch(batch));
  assert.deepEqual({ ...read, entries: read.entries.length }, { ...batch, entries: 200 });
  assert.deepEqual(read.entries, batch.entries.map(kept));
  // A value a kept field cannot hold is refused, as decodeEntryMeta refuses it.
  const tooLarge = Buffer.from([0x50, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]); // inode (field 10) = 2^63 - 1
  assert.throws(() => decodeParentIndexEntry(tooLarge, 0, tooLarge.length), (error: unknown) => error instanceof ProtocolError && /inode/.test(error.message));
  assert.throws(() => decodeEntryMeta(tooLarge), ProtocolError);
});

test('encodeEntryMeta refuses a value its field cannot hold, as ts-proto does, instead of writing another value', () => {
  const bad: [keyof EntryMeta, number][] = [
    ['mtimeNsec', -500_000_000], ['ctimeNsec', 2 ** 32], ['mode', -1], ['uid', 2 ** 32], ['gid', 1.5], ['nlink', Number.NaN],
    ['size', -1], ['inode', 2 ** 53], ['device', 0.5], ['rdev', Number.POSITIVE_INFINITY],
    ['mtimeSec', 2 ** 53], ['ctimeSec', -(2 ** 53)], ['mtimeSec', 1.25], ['type', 2 ** 31],
  ];
  for (const [field, value] of bad) {
    const meta = { ...sample(1), [field]: value };
    assert.throws(() => encodeEntryMeta(meta), (error: unknown) => error instanceof ProtocolError && error.message.includes(`${field} ${value} is not`), `${field} = ${value}`);
    // ±2^53 ts-proto writes, but no decoder takes back (both refuse it there): refused here already.
    if (Math.abs(value) !== 2 ** 53) assert.throws(() => EntryMeta.encode(meta).finish(), `ts-proto refuses ${field} = ${value} too`);
    else assert.throws(() => EntryMeta.decode(EntryMeta.encode(meta).finish()), `ts-proto cannot read ${field} = ${value} back`);
  }
  assert.throws(() => encodeEntryMeta({ ...sample(1), extents: [0, -1] }), /an extent -1 is not/);
});

test('a field number 0 and a varint past 2^53 are refused, not read as something else', () => {
  const withZeroTag = Buffer.from([0x00, 0x00, 0x60, 0x05]);
  assert.throws(() => decodeEntryMeta(withZeroTag), ProtocolError);
  // ParentBatch.backup_id = 2^53: a double would round it (the generated decoder refuses it).
  const backupId = Buffer.from([0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10]);
  assert.throws(() => ParentBatch.decode(backupId));
  assert.throws(() => deserializeParentBatch(backupId), (error: unknown) => error instanceof ProtocolError && /larger than 2\^53 - 1/.test(error.message));
  const reader = new FieldReader(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]));
  assert.equal(reader.varint(), Number.MAX_SAFE_INTEGER, '2^53 - 1 itself is read');
});

test('an inode or device number past 2^53 is hashed into 53 bits, the same each time, and crosses the wire; smaller ones are exact', () => {
  const huge = 2n ** 63n + 12_345n;
  const hashed = safeInteger(huge);
  assert.ok(Number.isSafeInteger(hashed) && hashed >= 0, String(hashed));
  assert.equal(safeInteger(huge), hashed);
  assert.notEqual(safeInteger(huge + 1n), hashed);
  assert.equal(safeInteger(BigInt(Number.MAX_SAFE_INTEGER)), Number.MAX_SAFE_INTEGER);
  assert.equal(safeInteger(1_234_567n), 1_234_567);
  // overlayfs with xino: a layer number in the high bits, the inode in the low ones; no two may meet.
  const layered = new Set<number>();
  for (let layer = 1n; layer <= 4n; layer++) for (let inode = 0n; inode < 2048n; inode++) layered.add(safeInteger((layer << 60n) | inode));
  assert.equal(layered.size, 4 * 2048);
  const stats = {
    mode: 0o100644, uid: 0, gid: 0, nlink: 2, size: 5, blocks: 8, blksize: 4096, ino: huge, dev: 2n ** 60n, rdev: 0n,
    atimeNs: 0n, mtimeNs: 1_700_000_000_000_000_000n, ctimeNs: 1_700_000_000_000_000_000n,
  };
  const meta = entryMetaFromStat(Buffer.from('/data/f'), EntryType.ENTRY_TYPE_FILE, stats, new OwnerNames());
  assert.deepEqual(decodeEntryMeta(encodeEntryMeta(meta)), meta);
  assert.deepEqual(EntryMeta.decode(EntryMeta.encode(meta).finish()).inode, hashed);
});
