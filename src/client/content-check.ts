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
  size = 0;

  /**
   * The raw bytes of a piece. Stored chunks were decoded and checked against their hashes on a
   * worker thread (chunk-decoder-worker.ts); one that failed throws its CorruptError, naming it.
   * The caller writes the bytes, then calls release (also when a write fails), and uses them no more.
   */
  async bytesOfPiece(piece: ContentPiece): Promise<{ readonly bytes: readonly Buffer[]; readonly release: () => void }> {
    // Bytes may come as a plain Uint8Array from the message decoder, not only as a Buffer.
    if (piece instanceof Uint8Array) {
      (this.bytesHash ??= createHash('sha256')).update(piece);
      this.size += piece.length;
      return { bytes: [piece], release: () => undefined };
    }
    const { results, release } = await piece.decoded;
    this.hasChunks = true;
    try {
      const bytes = results.map((result, index) => {
        if (result instanceof Error) throw result;
        this.chunkHashes.add(piece.chunks[index].hash);
        this.size += result.length;
        return result;
      });
      return { bytes, release };
    } catch (error) {
      release();
      throw error;
    }
  }

  /** Whether what arrived is the content the server named (its hash and size). */
  matches(expectedHash: Buffer, expectedSize: number): boolean {
    if (this.size !== expectedSize) return false;
    const hash = this.hasChunks ? this.chunkHashes.digest() : (this.bytesHash ?? createHash('sha256')).digest();
    return hash.equals(expectedHash);
  }
}

