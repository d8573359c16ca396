// The on-disk record framing of a pack: a fixed header before each stored chunk.
// Packs are self-describing (magic, codec, sizes, hash) so check and recovery can walk them.

export const RECORD_MAGIC = 0x4350; // "CP"
export const RECORD_HEADER_SIZE = 44; // magic u16, codec u8, reserved u8, raw size u32, stored size u32, sha256 32 bytes

export enum Codec {
  Raw = 0,
  Zstd = 1,
}

export interface RecordHeader {
  readonly codec: Codec;
  readonly rawSize: number;
  readonly storedSize: number;
  readonly hash: Buffer;
}

export function encodeRecordHeader(header: RecordHeader): Buffer {
  const buffer = Buffer.alloc(RECORD_HEADER_SIZE);
  buffer.writeUInt16BE(RECORD_MAGIC, 0);
  buffer.writeUInt8(header.codec, 2);
  buffer.writeUInt32BE(header.rawSize, 4);
  buffer.writeUInt32BE(header.storedSize, 8);
  header.hash.copy(buffer, 12);
  return buffer;
}

/** Returns undefined when the bytes are not a record header (damage or a torn write). */
export function decodeRecordHeader(buffer: Buffer): RecordHeader | undefined {
  if (buffer.length < RECORD_HEADER_SIZE || buffer.readUInt16BE(0) !== RECORD_MAGIC) return undefined;
  const codec = buffer.readUInt8(2);
  if (codec !== Codec.Raw && codec !== Codec.Zstd) return undefined;
  return {
    codec,
    rawSize: buffer.readUInt32BE(4),
    storedSize: buffer.readUInt32BE(8),
    hash: Buffer.from(buffer.subarray(12, 44)),
  };
}
