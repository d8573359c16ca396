// Show, Diff, Find and Parent cut their batches by entryBatchBytes: a bound that fell short of an entry's
// encoded size would let a batch of large entries grow past its budget towards the 4 MiB message cap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EntryMeta, ShowBatch } from '../src/proto/cpsbackup';
import { entryBatchBytes } from '../src/server/entry-batch-bytes';

const LARGEST = Number.MAX_SAFE_INTEGER;
const UINT32 = 0xffff_ffff;

function entryWith(fields: Partial<EntryMeta>): EntryMeta {
  return {
    path: Buffer.alloc(0), type: -1, mode: UINT32, uid: UINT32, gid: UINT32, mtimeSec: -LARGEST, mtimeNsec: UINT32, ctimeSec: -LARGEST, ctimeNsec: UINT32,
    inode: LARGEST, device: LARGEST, size: LARGEST, linkTarget: Buffer.alloc(0), user: '', group: '', nlink: UINT32, rdev: LARGEST,
    xattrs: [], extents: [], hardlinkTarget: Buffer.alloc(0), inodeFlags: 0, inodeFlagsKnown: false, damage: '', ...fields,
  };
}

test('the bound is never less than the entry takes in a batch, whatever its numbers, names and attributes hold', () => {
  const cases: [string, EntryMeta][] = [
    ['only the largest numbers', entryWith({})],
    ['every bytes field, three-byte owner names', entryWith({
      path: Buffer.alloc(65_536, 0x61), linkTarget: Buffer.alloc(65_536, 0x62), hardlinkTarget: Buffer.alloc(65_536, 0x63), user: '€'.repeat(4096), group: '€'.repeat(4096),
      damage: '€'.repeat(4096),
    })],
    ['the largest numbers and a short damage note', entryWith({ damage: 'x' })],
    ['the most extents, the largest values', entryWith({ extents: Array.from({ length: 131_072 }, () => LARGEST) })],
    ['many one-byte attributes', entryWith({ xattrs: Array.from({ length: 32_768 }, () => ({ name: Buffer.from('a'), value: Buffer.alloc(0) })) })],
    ['attributes of 64 KiB', entryWith({ xattrs: Array.from({ length: 20 }, () => ({ name: Buffer.alloc(255, 0x6e), value: Buffer.alloc(65_536, 0x76) })) })],
  ];
  for (const [name, entry] of cases) {
    const encoded = ShowBatch.encode({ entries: [entry] }).finish().length;
    assert.ok(entryBatchBytes(entry) >= encoded, `${name}: bound ${entryBatchBytes(entry)} < encoded ${encoded}`);
  }
});
