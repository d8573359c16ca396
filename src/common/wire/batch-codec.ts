// Hand-written encoding of the messages that carry file content (EntryBatch and Data), for both
// directions. ts-proto's generic code copies content bytes into a growing buffer when encoding and
// once more when decoding; here each message is written with one copy of the content, and decoded
// content is a view into the received message. The bytes are exactly protobuf's (a test compares).
import type { BatchedEntry, CarriedRun, ChunkBatch, EncodedChunk, EntryBatch } from '../../proto/cpsbackup';
import { ProtocolError } from '../errors';
import { decodeEntryMeta } from './entry-meta-reader';
import { sizeEntryMeta, writeEntryMetaField } from './entry-meta-writer';
import { varintLength, writeVarint } from './varint';

const LENGTH_DELIMITED = 2;
/** EntryBatch.entries = 1; BatchedEntry: meta = 1, same_as_parent = 2, content = 3, sha256 = 4, chunks = 5, chunk_hashes = 6, carried = 7. */
const ENTRIES_TAG = (1 << 3) | LENGTH_DELIMITED;
const META_TAG = (1 << 3) | LENGTH_DELIMITED;
const SAME_AS_PARENT_TAG = 2 << 3;
const CONTENT_TAG = (3 << 3) | LENGTH_DELIMITED;
const SHA256_TAG = (4 << 3) | LENGTH_DELIMITED;
const CHUNKS_TAG = (5 << 3) | LENGTH_DELIMITED;
const CHUNK_HASHES_TAG = (6 << 3) | LENGTH_DELIMITED;
const CARRIED_TAG = (7 << 3) | LENGTH_DELIMITED;
/** CarriedRun: first_path = 1, last_path = 2, count = 3. */
const FIRST_PATH_TAG = (1 << 3) | LENGTH_DELIMITED;
const LAST_PATH_TAG = (2 << 3) | LENGTH_DELIMITED;
const COUNT_TAG = 3 << 3;
/** EncodedChunk: hash = 1, raw_size = 2, codec = 3, payload = 4; ChunkBatch.chunks = 1. */
const CHUNK_HASH_TAG = (1 << 3) | LENGTH_DELIMITED;
const RAW_SIZE_TAG = 2 << 3;
const CODEC_TAG = 3 << 3;
const PAYLOAD_TAG = (4 << 3) | LENGTH_DELIMITED;
const BATCH_CHUNKS_TAG = (1 << 3) | LENGTH_DELIMITED;

/** The size of a length-delimited field: tag, length, bytes. Empty bytes are left out, as proto3 does. */
function bytesFieldLength(length: number): number {
  return length === 0 ? 0 : 1 + varintLength(length) + length;
}

/** The size of a set message field (kept even when empty, as protobuf does); undefined: not set. */
function lengthDelimitedLength(length: number | undefined): number {
  return length === undefined ? 0 : 1 + varintLength(length) + length;
}

function encodedChunkLength(chunk: EncodedChunk): number {
  return bytesFieldLength(chunk.hash.length) + (chunk.rawSize ? 1 + varintLength(chunk.rawSize) : 0)
    + (chunk.codec ? 1 + varintLength(chunk.codec) : 0) + bytesFieldLength(chunk.payload.length);
}

function carriedRunLength(run: CarriedRun): number {
  return bytesFieldLength(run.firstPath.length) + bytesFieldLength(run.lastPath.length) + (run.count ? 1 + varintLength(run.count) : 0);
}

function writeCarriedRun(buffer: Buffer, offset: number, run: CarriedRun, length: number): number {
  buffer[offset++] = CARRIED_TAG;
  offset = writeVarint(buffer, offset, length);
  if (run.firstPath.length > 0) offset = writeBytes(buffer, offset, FIRST_PATH_TAG, run.firstPath);
  if (run.lastPath.length > 0) offset = writeBytes(buffer, offset, LAST_PATH_TAG, run.lastPath);
  if (run.count) {
    buffer[offset++] = COUNT_TAG;
    offset = writeVarint(buffer, offset, run.count);
  }
  return offset;
}

function writeEncodedChunk(buffer: Buffer, offset: number, tag: number, chunk: EncodedChunk, length: number): number {
  buffer[offset++] = tag;
  offset = writeVarint(buffer, offset, length);
  if (chunk.hash.length > 0) offset = writeBytes(buffer, offset, CHUNK_HASH_TAG, chunk.hash);
  if (chunk.rawSize) {
    buffer[offset++] = RAW_SIZE_TAG;
    offset = writeVarint(buffer, offset, chunk.rawSize);
  }
  if (chunk.codec) {
    buffer[offset++] = CODEC_TAG;
    offset = writeVarint(buffer, offset, chunk.codec);
  }
  if (chunk.payload.length > 0) offset = writeBytes(buffer, offset, PAYLOAD_TAG, chunk.payload);
  return offset;
}

/** Encodes `{ <field>: chunkBatch }` (UploadRequest.chunks, RestoreResponse.chunks) with one copy of each payload. */
/** Where an encoder writes a message of `size` bytes: a new buffer unless the caller gives one (a reused scratch). */
export type MessageBuffer = (size: number) => Buffer;

const newMessageBuffer: MessageBuffer = (size) => Buffer.allocUnsafe(size);

export function encodeChunkBatchMessage(outerTag: number, batch: ChunkBatch, into: MessageBuffer = newMessageBuffer): Buffer {
  const lengths = batch.chunks.map(encodedChunkLength);
  const batchLength = lengths.reduce((sum, length) => sum + 1 + varintLength(length) + length, 0);
  const buffer = into(1 + varintLength(batchLength) + batchLength);
  let offset = 0;
  buffer[offset++] = outerTag;
  offset = writeVarint(buffer, offset, batchLength);
  batch.chunks.forEach((chunk, index) => { offset = writeEncodedChunk(buffer, offset, BATCH_CHUNKS_TAG, chunk, lengths[index]); });
  return buffer;
}

/** Encodes `{ <field>: batch }` of a oneof whose tag is `outerTag` (UploadRequest.batch, RestoreResponse.batch). */
export function encodeBatchMessage(outerTag: number, batch: EntryBatch, into: MessageBuffer = newMessageBuffer): Buffer {
  const metas = batch.entries.map((entry) => (entry.meta ? sizeEntryMeta(entry.meta) : undefined));
  const chunkLengths = batch.entries.map((entry) => entry.chunks.map(encodedChunkLength));
  const carriedLengths = batch.entries.map((entry) => (entry.carried ? carriedRunLength(entry.carried) : undefined));
  const entryLengths = batch.entries.map((entry, index) => {
    const meta = metas[index];
    return (meta ? 1 + varintLength(meta.length) + meta.length : 0) + (entry.sameAsParent ? 2 : 0)
      + bytesFieldLength(entry.content.length) + bytesFieldLength(entry.sha256.length)
      + chunkLengths[index].reduce((sum, length) => sum + 1 + varintLength(length) + length, 0)
      + bytesFieldLength(entry.chunkHashes.length) + lengthDelimitedLength(carriedLengths[index]);
  });
  const batchLength = entryLengths.reduce((sum, length) => sum + 1 + varintLength(length) + length, 0);
  const buffer = into(1 + varintLength(batchLength) + batchLength);
  let offset = 0;
  buffer[offset++] = outerTag;
  offset = writeVarint(buffer, offset, batchLength);
  batch.entries.forEach((entry, index) => {
    buffer[offset++] = ENTRIES_TAG;
    offset = writeVarint(buffer, offset, entryLengths[index]);
    const meta = metas[index];
    if (meta) offset = writeEntryMetaField(buffer, offset, META_TAG, meta);
    if (entry.sameAsParent) {
      buffer[offset++] = SAME_AS_PARENT_TAG;
      buffer[offset++] = 1;
    }
    if (entry.content.length > 0) offset = writeBytes(buffer, offset, CONTENT_TAG, entry.content);
    if (entry.sha256.length > 0) offset = writeBytes(buffer, offset, SHA256_TAG, entry.sha256);
    entry.chunks.forEach((chunk, chunkIndex) => { offset = writeEncodedChunk(buffer, offset, CHUNKS_TAG, chunk, chunkLengths[index][chunkIndex]); });
    if (entry.chunkHashes.length > 0) offset = writeBytes(buffer, offset, CHUNK_HASHES_TAG, entry.chunkHashes);
    const carriedLength = carriedLengths[index];
    if (entry.carried && carriedLength !== undefined) offset = writeCarriedRun(buffer, offset, entry.carried, carriedLength);
  });
  return buffer;
}

function writeBytes(buffer: Buffer, offset: number, tag: number, bytes: Uint8Array): number {
  buffer[offset++] = tag;
  offset = writeVarint(buffer, offset, bytes.length);
  buffer.set(bytes, offset);
  return offset + bytes.length;
}

/** Reads protobuf fields of buffer[start, end) one at a time, without copying length-delimited ones. */
export class FieldReader {
  private offset: number;

  constructor(private readonly buffer: Buffer, start = 0, private readonly end = buffer.length) {
    this.offset = start;
  }

  get isDone(): boolean {
    return this.offset >= this.end;
  }

  /** The next field's number and wire type. */
  tag(): { field: number; wireType: number } {
    const tag = this.varint();
    return { field: Math.floor(tag / 8), wireType: tag & 7 };
  }

  varint(): number {
    let value = 0;
    let scale = 1;
    for (;;) {
      if (this.offset >= this.end) throw new ProtocolError('message ends inside a varint');
      const byte = this.buffer[this.offset++];
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        // Past 2^53 a double rounds: a size or id would silently become another one.
        if (value > Number.MAX_SAFE_INTEGER) throw new ProtocolError('varint larger than 2^53 - 1');
        return value;
      }
      scale *= 128;
      if (scale > 2 ** 63) throw new ProtocolError('varint longer than 64 bits');
    }
  }

  /** A length-delimited field's bytes, as a view into the message. */
  bytes(): Buffer {
    const start = this.span();
    return this.buffer.subarray(start, this.offset);
  }

  /** A length-delimited field: its bytes are buffer[returned start, offset after the call). */
  span(): number {
    const length = this.varint();
    if (length > this.end - this.offset) throw new ProtocolError('length-delimited field runs past its message');
    const start = this.offset;
    this.offset += length;
    return start;
  }

  /** Where the next field starts: after span(), the end of the field just read. */
  get position(): number {
    return this.offset;
  }

  /** Skips a field this decoder does not know (a newer sender's), as protobuf does. */
  skip(wireType: number): void {
    switch (wireType) {
      case 0: this.varint(); return;
      case 1: this.advance(8); return;
      case 2: this.bytes(); return;
      case 5: this.advance(4); return;
      default: throw new ProtocolError(`unsupported protobuf wire type ${wireType}`);
    }
  }

  private advance(count: number): void {
    if (count > this.end - this.offset) throw new ProtocolError('fixed-size field runs past its message');
    this.offset += count;
  }
}

const NOTHING = Buffer.alloc(0);

/** Decodes an EntryBatch; content and sha256 are views into `bytes`. */
export function decodeBatch(bytes: Buffer): EntryBatch {
  const entries: BatchedEntry[] = [];
  const reader = new FieldReader(bytes);
  while (!reader.isDone) {
    const { field, wireType } = reader.tag();
    if (field === 1 && wireType === LENGTH_DELIMITED) entries.push(decodeBatchedEntry(reader.bytes()));
    else reader.skip(wireType);
  }
  return { entries };
}

function decodeBatchedEntry(bytes: Buffer): BatchedEntry {
  const entry: BatchedEntry = { meta: undefined, sameAsParent: false, content: NOTHING, sha256: NOTHING, chunks: [], chunkHashes: NOTHING, carried: undefined };
  const reader = new FieldReader(bytes);
  while (!reader.isDone) {
    const { field, wireType } = reader.tag();
    if (field === 1 && wireType === LENGTH_DELIMITED) entry.meta = decodeEntryMeta(reader.bytes());
    else if (field === 2 && wireType === 0) entry.sameAsParent = reader.varint() !== 0;
    else if (field === 3 && wireType === LENGTH_DELIMITED) entry.content = reader.bytes();
    else if (field === 4 && wireType === LENGTH_DELIMITED) entry.sha256 = reader.bytes();
    else if (field === 5 && wireType === LENGTH_DELIMITED) entry.chunks.push(decodeEncodedChunk(reader.bytes()));
    else if (field === 6 && wireType === LENGTH_DELIMITED) entry.chunkHashes = reader.bytes();
    else if (field === 7 && wireType === LENGTH_DELIMITED) entry.carried = decodeCarriedRun(reader.bytes());
    else reader.skip(wireType);
  }
  return entry;
}

/** A CarriedRun whose paths are views into `bytes`. */
function decodeCarriedRun(bytes: Buffer): CarriedRun {
  const run: CarriedRun = { firstPath: NOTHING, lastPath: NOTHING, count: 0 };
  const reader = new FieldReader(bytes);
  while (!reader.isDone) {
    const { field, wireType } = reader.tag();
    if (field === 1 && wireType === LENGTH_DELIMITED) run.firstPath = reader.bytes();
    else if (field === 2 && wireType === LENGTH_DELIMITED) run.lastPath = reader.bytes();
    else if (field === 3 && wireType === 0) run.count = reader.varint();
    else reader.skip(wireType);
  }
  return run;
}

/** An EncodedChunk whose hash and payload are views into `bytes`. */
function decodeEncodedChunk(bytes: Buffer): EncodedChunk {
  const chunk: EncodedChunk = { hash: NOTHING, rawSize: 0, codec: 0, payload: NOTHING };
  const reader = new FieldReader(bytes);
  while (!reader.isDone) {
    const { field, wireType } = reader.tag();
    if (field === 1 && wireType === LENGTH_DELIMITED) chunk.hash = reader.bytes();
    else if (field === 2 && wireType === 0) chunk.rawSize = reader.varint();
    else if (field === 3 && wireType === 0) chunk.codec = reader.varint();
    else if (field === 4 && wireType === LENGTH_DELIMITED) chunk.payload = reader.bytes();
    else reader.skip(wireType);
  }
  return chunk;
}

/** Decodes a ChunkBatch; hashes and payloads are views into `bytes`. */
export function decodeChunkBatch(bytes: Buffer): ChunkBatch {
  const chunks: EncodedChunk[] = [];
  const reader = new FieldReader(bytes);
  while (!reader.isDone) {
    const { field, wireType } = reader.tag();
    if (field === 1 && wireType === LENGTH_DELIMITED) chunks.push(decodeEncodedChunk(reader.bytes()));
    else reader.skip(wireType);
  }
  return { chunks };
}
