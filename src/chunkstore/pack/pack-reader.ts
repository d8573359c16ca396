// Reads chunk records back through the backend and proves each is the chunk asked for (header and
// SHA-256). A missing pack, a short read or a hash mismatch is corruption named with pack and
// offset; other I/O errors pass through as they are.
import type { PackBackend } from '../backend/pack-backend';
import { readOpenedRange } from '../backend/read-opened-range';
import type { ChunkLocation } from '../catalog/records';
import { Codec, decodeRecordHeader, RECORD_HEADER_SIZE } from './pack-format';
import { PLAIN_FRAMING, type RecordFraming } from './record-framing';
import { type ChunkCodec, sha256 } from '../codec';
import { CorruptError, NotFoundError } from '../../common/errors';

/** Where a chunk lives, for error messages. */
export function chunkWhere(location: Pick<ChunkLocation, 'hash' | 'packName' | 'offset'>): string {
  return `chunk ${location.hash.toString('hex')} in pack ${location.packName} at offset ${location.offset}`;
}

/**
 * A record's header and payload, read through the backend and unframed; a missing or short pack, or a record that
 * does not open, is corruption. Opened as it is read, so a read cache keeps only records that opened.
 */
export async function readRecord(backend: PackBackend, location: ChunkLocation, framing: RecordFraming = PLAIN_FRAMING): Promise<Buffer> {
  try {
    return await readOpenedRange(backend, location.packName, location.offset, framing.overhead + location.storedSize,
      (stored) => framing.unframe(location.packName, location.offset, stored));
  } catch (error) {
    if (error instanceof NotFoundError) throw new CorruptError(`${chunkWhere(location)}: pack is missing`);
    if (error instanceof CorruptError) throw new CorruptError(`${chunkWhere(location)}: ${error.message}`);
    throw error;
  }
}

/** A sealed record that does not open is corruption named with its chunk (a wrong key stays WrongKeyError). */
export function unframeRecord(framing: RecordFraming, location: ChunkLocation, stored: Buffer): Buffer {
  try {
    return framing.unframe(location.packName, location.offset, stored);
  } catch (error) {
    if (error instanceof CorruptError) throw new CorruptError(`${chunkWhere(location)}: ${error.message}`);
    throw error;
  }
}

export async function readChunk(backend: PackBackend, location: ChunkLocation, codec: ChunkCodec, into?: Buffer,
  framing: RecordFraming = PLAIN_FRAMING): Promise<Buffer> {
  return verifyRecord(await readRecord(backend, location, framing), location, codec, into);
}

/** A stored chunk as it lies in its pack: what a restore can hand on without decoding it. */
export interface StoredRecord {
  readonly codec: Codec;
  /** A view into the record read. */
  readonly payload: Buffer;
}

/** Proves a record's header is the chunk the catalog describes (not its bytes); throws CorruptError naming pack and offset. */
export function checkRecord(record: Buffer, location: ChunkLocation): StoredRecord {
  const length = RECORD_HEADER_SIZE + location.storedSize;
  if (record.length < length) throw new CorruptError(`${chunkWhere(location)}: pack is truncated (read ${record.length} of ${length} bytes)`);
  const header = decodeRecordHeader(record.subarray(0, RECORD_HEADER_SIZE));
  if (!header || header.storedSize !== location.storedSize || header.rawSize !== location.rawSize || !header.hash.equals(location.hash)) {
    throw new CorruptError(`${chunkWhere(location)}: record header does not match the catalog`);
  }
  return { codec: header.codec, payload: record.subarray(RECORD_HEADER_SIZE, length) };
}

/**
 * A record handed on undecoded (a protocol-2 restore), proven to be the chunk's before it goes: its payload's SHA-256
 * against the catalog's where the catalog knows it (no decoding), else decoded and re-hashed. Only the client checked
 * the bytes before, so damage the server sent was never its to see, and never marked (red team F4).
 */
export function verifyStoredRecord(record: Buffer, location: ChunkLocation, codec: ChunkCodec): StoredRecord {
  const stored = checkRecord(record, location);
  if (location.payloadHash !== undefined && location.payloadHash !== null) {
    if (!sha256(stored.payload).equals(location.payloadHash)) throw new CorruptError(`${chunkWhere(location)}: payload does not match its hash`);
    return stored;
  }
  verifyRecord(record, location, codec);
  return stored;
}

/**
 * Decodes one record (header and payload; shorter when the pack ended early) and proves it is the
 * chunk the catalog describes. Throws CorruptError naming pack and offset. With `into` (rawSize
 * bytes) the chunk is decoded there; what it holds is undefined after a throw.
 */
export function verifyRecord(record: Buffer, location: ChunkLocation, codec: ChunkCodec, into?: Buffer): Buffer {
  const stored = checkRecord(record, location);
  let raw: Buffer;
  try {
    raw = codec.decode(stored.codec, stored.payload, location.rawSize, into);
  } catch (error) {
    if (error instanceof CorruptError) throw new CorruptError(`${chunkWhere(location)}: ${error.message}`);
    throw error;
  }
  if (!sha256(raw).equals(location.hash)) throw new CorruptError(`${chunkWhere(location)}: content does not match its hash`);
  return raw;
}
