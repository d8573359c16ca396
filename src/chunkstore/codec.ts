// Compresses chunks with zstd and proves each result decodes back to the same bytes before it is stored
// (restic #4523: a compressor once returned wrong bytes on decompress), and decodes with a size bound.
import { Compressor } from 'zstd-napi';
import { DCtx, MAGICNUMBER, findFrameCompressedSize } from 'zstd-napi/binding';
import { Codec } from './pack/pack-format';
import { CorruptError } from '../common/errors';

export interface EncodedChunk {
  readonly codec: Codec;
  readonly payload: Buffer;
}

export { sha256 } from '../common/sha256';

/** One per session: zstd contexts are reused across chunks for speed. */
export class ChunkCodec {
  private readonly compressor = new Compressor();
  /** The low-level context: it decodes into a buffer we size, so a frame cannot choose its own output size. */
  private readonly decompressor = new DCtx();
  /** Where encode() decodes its round trip: one buffer reused, not a fresh one per chunk for the collector. */
  private roundTripScratch = Buffer.alloc(0);

  /**
   * isRoundTripChecked: decode every result again before trusting it (the store does); a client that
   * sends chunks leaves that to the server, which decodes and re-hashes each one anyway.
   */
  constructor(level: number, private readonly isRoundTripChecked = true) {
    this.compressor.setParameters({ compressionLevel: level });
  }

  encode(raw: Buffer): EncodedChunk {
    const compressed = this.compressor.compress(raw);
    if (compressed.length >= raw.length) return { codec: Codec.Raw, payload: raw };
    if (!this.isRoundTripChecked) return { codec: Codec.Zstd, payload: compressed };
    if (this.roundTripScratch.length < raw.length) this.roundTripScratch = Buffer.allocUnsafe(raw.length);
    const roundTrip = this.decode(Codec.Zstd, compressed, raw.length, this.roundTripScratch.subarray(0, raw.length));
    // Comparing the decoded bytes with the input is as strict as re-hashing them, at a fraction of the cost.
    if (!roundTrip.equals(raw)) {
      // Never store bytes that do not decode to the original; raw storage is always safe.
      return { codec: Codec.Raw, payload: raw };
    }
    return { codec: Codec.Zstd, payload: compressed };
  }

  /**
   * expectedRawSize bounds the output: a corrupt or hostile frame cannot expand past it (the
   * output buffer is sized from the catalog, never from the frame's header). With `into` (exactly
   * expectedRawSize bytes) the chunk is decoded there, which saves restore a copy per byte.
   */
  decode(codec: Codec, payload: Buffer, expectedRawSize: number, into?: Buffer): Buffer {
    if (into !== undefined && into.length !== expectedRawSize) {
      throw new RangeError(`decode target holds ${into.length} bytes, the chunk ${expectedRawSize}`);
    }
    if (codec === Codec.Raw) {
      // Either way: a raw chunk whose length differs from its row is as damaged as a frame that decodes short.
      if (payload.length !== expectedRawSize) throw new CorruptError(`raw chunk is ${payload.length} bytes, expected ${expectedRawSize}`);
      if (into === undefined) return payload;
      payload.copy(into);
      return into;
    }
    const raw = into ?? Buffer.allocUnsafe(expectedRawSize);
    let decodedSize: number;
    try {
      decodedSize = this.decompressor.decompress(raw, payload);
    } catch (error) {
      throw new CorruptError(`zstd frame does not decode: ${(error as Error).message}`);
    }
    if (decodedSize !== expectedRawSize) {
      throw new CorruptError(`zstd frame decoded to ${decodedSize} bytes, expected ${expectedRawSize}`);
    }
    return raw;
  }
}

/**
 * Why a zstd payload another party compressed is not one this store would write, or undefined: the
 * payload becomes the chunk's stored bytes, shared by every client deduplicated against it, and a
 * decoder skips what a frame may be padded with (skippable frames) or cut into (more frames). So it
 * must be exactly one zstd frame, smaller than its raw bytes (ChunkCodec.encode stores raw otherwise).
 */
export function zstdPayloadProblem(payload: Buffer, rawSize: number): string | undefined {
  if (payload.length >= rawSize) return `its zstd payload of ${payload.length} bytes is no smaller than its ${rawSize} raw bytes`;
  if (payload.length < 4 || payload.readUInt32LE(0) !== MAGICNUMBER) return 'its payload does not start with a zstd frame';
  let frameSize: number;
  try {
    frameSize = findFrameCompressedSize(payload);
  } catch (error) {
    return `its zstd frame is malformed (${(error as Error).message})`;
  }
  return frameSize === payload.length ? undefined : `its payload holds ${payload.length - frameSize} bytes after its zstd frame`;
}
