// ParentBatch written and read by hand (the Parent call's answer): its entries go through the
// hand-written EntryMeta codec, or, for the client's parent index, a reader of only what the index
// keeps. The generated code spent more on the parent index of 20,000 unchanged files than the client
// spent walking them.
import type { ParentBatch } from '../../proto/cpsbackup';
import { FieldReader } from './batch-codec';
import { ProtocolError } from '../errors';
import { varintLength, writeVarint } from './varint';
import { decodeEntryMeta, decodeParentIndexEntry, type ParentIndexEntry } from './entry-meta-reader';
import { sizeEntryMeta, writeEntryMetaField } from './entry-meta-writer';

/** ParentBatch: backup_id = 1, entries = 2, accepts_batches = 3, accepts_carried_runs = 4, damaged = 5 (packed),
 * keeps_inode_flags = 6. */
const BACKUP_ID_TAG = 1 << 3;
const ENTRIES_TAG = (2 << 3) | 2;
const ACCEPTS_BATCHES_TAG = 3 << 3;
const ACCEPTS_CARRIED_RUNS_TAG = 4 << 3;
const DAMAGED_TAG = (5 << 3) | 2;
const KEEPS_INODE_FLAGS_TAG = 6 << 3;

export function serializeParentBatch(batch: ParentBatch): Buffer {
  const sized = batch.entries.map(sizeEntryMeta);
  let length = batch.backupId === 0 ? 0 : 1 + varintLength(batch.backupId);
  for (const entry of sized) length += 1 + varintLength(entry.length) + entry.length;
  if (batch.acceptsBatches) length += 2;
  if (batch.acceptsCarriedRuns) length += 2;
  if (batch.keepsInodeFlags) length += 2;
  const damagedLength = batch.damaged.reduce((sum, index) => sum + varintLength(index), 0);
  if (damagedLength > 0) length += 1 + varintLength(damagedLength) + damagedLength;
  const buffer = Buffer.allocUnsafe(length);
  let offset = 0;
  if (batch.backupId !== 0) {
    buffer[offset++] = BACKUP_ID_TAG;
    offset = writeVarint(buffer, offset, batch.backupId);
  }
  for (const entry of sized) offset = writeEntryMetaField(buffer, offset, ENTRIES_TAG, entry);
  if (batch.acceptsBatches) {
    buffer[offset++] = ACCEPTS_BATCHES_TAG;
    buffer[offset++] = 1;
  }
  if (batch.acceptsCarriedRuns) {
    buffer[offset++] = ACCEPTS_CARRIED_RUNS_TAG;
    buffer[offset++] = 1;
  }
  if (damagedLength > 0) {
    buffer[offset++] = DAMAGED_TAG;
    offset = writeVarint(buffer, offset, damagedLength);
    for (const index of batch.damaged) offset = writeVarint(buffer, offset, index);
  }
  if (batch.keepsInodeFlags) {
    buffer[offset++] = KEEPS_INODE_FLAGS_TAG;
    buffer[offset++] = 1;
  }
  return buffer;
}

export function deserializeParentBatch(bytes: Buffer): ParentBatch {
  return readParentBatch(bytes, decodeEntryMeta);
}

/** A ParentBatch as the parent index reads it: each entry only as far as the index keeps it. */
export type ParentIndexBatch = Omit<ParentBatch, 'entries'> & { readonly entries: ParentIndexEntry[] };

/** Reads a ParentBatch as deserializeParentBatch does, its entries by decodeParentIndexEntry. */
export function deserializeParentIndexBatch(bytes: Buffer): ParentIndexBatch {
  return readParentBatch(bytes, decodeParentIndexEntry);
}

function readParentBatch<Entry>(bytes: Buffer, decodeEntry: (buffer: Buffer, start: number, end: number) => Entry)
  : Omit<ParentBatch, 'entries'> & { entries: Entry[] } {
  const batch = { backupId: 0, entries: [] as Entry[], acceptsBatches: false, acceptsCarriedRuns: false, damaged: [] as number[], keepsInodeFlags: false };
  const reader = new FieldReader(bytes);
  while (!reader.isDone) {
    const { field, wireType } = reader.tag();
    if (field === 1 && wireType === 0) batch.backupId = reader.varint();
    else if (field === 2 && wireType === 2) {
      const start = reader.span();
      batch.entries.push(decodeEntry(bytes, start, reader.position));
    } else if (field === 3 && wireType === 0) batch.acceptsBatches = reader.varint() !== 0;
    else if (field === 4 && wireType === 0) batch.acceptsCarriedRuns = reader.varint() !== 0;
    else if (field === 6 && wireType === 0) batch.keepsInodeFlags = reader.varint() !== 0;
    else if (field === 5 && wireType === 0) batch.damaged.push(uint32(reader.varint()));
    else if (field === 5 && wireType === 2) {
      // Packed, as proto3 writes it; a reader must take the unpacked form too.
      const packed = new FieldReader(reader.bytes());
      while (!packed.isDone) batch.damaged.push(uint32(packed.varint()));
    } else reader.skip(wireType);
  }
  return batch;
}

function uint32(value: number): number {
  if (value > 0xffffffff) throw new ProtocolError(`a damaged entry's index ${value} does not fit in 32 bits`);
  return value;
}
