// What a restored file's content must prove before it takes its name: each stored chunk decoded within
// its declared size and matching its own hash, and the chunk hashes together matching the content's
// hash (content-hash.ts); or, from a server older than protocol 2, the hash of the bytes.
import { createHash, type Hash } from 'node:crypto';
import { ContentHasher } from '../common/content-hash';
import type { ContentPiece } from './restore-messages';

export class ContentCheck {
  private readonly chunkHashes = new ContentHasher();
  private bytesHash: Hash | undefined;
  private hasChunks = false;
  /** The bytes' own SHA-256, for a dump (isHashingBytes): what its load checks the file still holds. */
  private readonly writtenHash: Hash | undefined;
  size = 0;

  constructor(isHashingBytes = false) {
    this.writtenHash = isHashingBytes ? createHash('sha256') : undefined;
  }

  /**
   * The raw bytes of a piece. Stored chunks were decoded and checked against their hashes on a
   * worker thread (chunk-decoder-worker.ts); one that failed throws its CorruptError, naming it.
   * The caller writes the bytes, then calls release (also when a write fails), and uses them no more.
   */
  async bytesOfPiece(piece: ContentPiece): Promise<{ readonly bytes: readonly Buffer[]; readonly release: () => void }> {
    // Bytes may come as a plain Uint8Array from the message decoder, not only as a Buffer.
    if (piece instanceof Uint8Array) {
      (this.bytesHash ??= createHash('sha256')).update(piece);
      this.writtenHash?.update(piece);
      this.size += piece.length;
      return { bytes: [piece], release: () => undefined };
    }
    const { results, release } = await piece.decoded;
    this.hasChunks = true;
    try {
      const bytes = results.map((result, index) => {
        if (result instanceof Error) throw result;
        this.chunkHashes.add(piece.chunks[index].hash);
        this.writtenHash?.update(result);
        this.size += result.length;
        return result;
      });
      return { bytes, release };
    } catch (error) {
      release();
      throw error;
    }
  }

  /** The SHA-256 of the bytes themselves (hex), when asked for at construction; once, after the last piece. */
  bytesSha256(): string | undefined {
    return this.writtenHash?.digest('hex');
  }

  /** Whether what arrived is the content the server named (its hash and size). */
  matches(expectedHash: Buffer, expectedSize: number): boolean {
    if (this.size !== expectedSize) return false;
    const hash = this.hasChunks ? this.chunkHashes.digest() : (this.bytesHash ?? createHash('sha256')).digest();
    return hash.equals(expectedHash);
  }
}

