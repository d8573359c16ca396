// What a restored file's content must prove before it takes its name: each stored chunk decoded within
// its declared size and matching its own hash, and the chunk hashes together matching the content's
// hash (content-hash.ts); or, from a server older than protocol 2, the hash of the bytes.
import { createHash, type Hash } from 'node:crypto';
import type { EncodedChunk } from '../proto/cpsbackup';
import { ChunkCodec } from '../chunkstore/codec';
import { ContentHasher } from '../common/content-hash';
import { CorruptError } from '../common/errors';
import type { ContentPiece, DecodingChunks } from './restore-messages';

/** Decoding only: the level is never used. */
const DECODER_LEVEL = 3;

export class ContentCheck {
  private readonly chunkHashes = new ContentHasher();
  private bytesHash: Hash | undefined;
  private hasChunks = false;
  size = 0;

  constructor(private readonly codec: ChunkCodec = new ChunkCodec(DECODER_LEVEL)) {}

  /** As bytesOf, for a piece whose chunks may be decoding on a worker thread (checked there). */
  async bytesOfPiece(piece: ContentPiece): Promise<readonly Buffer[]> {
    if (!isDecoding(piece)) return this.bytesOf(piece);
    const decoded = await piece.decoded;
    this.hasChunks = true;
    return decoded.map((result, index) => {
      if (result instanceof Error) throw result;
      this.chunkHashes.add(piece.chunks[index].hash);
      this.size += result.length;
      return result;
    });
  }

  /** The raw bytes of a piece, each chunk decoded and checked (CorruptError naming the chunk otherwise). */
  bytesOf(piece: Buffer | readonly EncodedChunk[]): Buffer[] {
    if (Array.isArray(piece)) {
      this.hasChunks = true;
      return (piece as readonly EncodedChunk[]).map((chunk) => this.decode(chunk));
    }
    const bytes = piece as Buffer;
    (this.bytesHash ??= createHash('sha256')).update(bytes);
    this.size += bytes.length;
    return [bytes];
  }

  private decode(chunk: EncodedChunk): Buffer {
    let raw: Buffer;
    try {
      raw = this.codec.decode(chunk.codec, chunk.payload, chunk.rawSize);
    } catch (error) {
      throw new CorruptError(`not restored, the store's copy is damaged: chunk ${chunk.hash.toString('hex')} does not decode (${(error as Error).message})`);
    }
    if (!createHash('sha256').update(raw).digest().equals(chunk.hash)) {
      throw new CorruptError(`not restored, the store's copy is damaged: chunk ${chunk.hash.toString('hex')} does not match its hash`);
    }
    this.chunkHashes.add(chunk.hash);
    this.size += raw.length;
    return raw;
  }

  /** Whether what arrived is the content the server named (its hash and size). */
  matches(expectedHash: Buffer, expectedSize: number): boolean {
    if (this.size !== expectedSize) return false;
    const hash = this.hasChunks ? this.chunkHashes.digest() : (this.bytesHash ?? createHash('sha256')).digest();
    return hash.equals(expectedHash);
  }
}

function isDecoding(piece: ContentPiece): piece is DecodingChunks {
  // Bytes may come as a plain Uint8Array from the message decoder, not only as a Buffer.
  return !(piece instanceof Uint8Array) && !Array.isArray(piece);
}
