// A content's identity: the SHA-256 of its chunks' SHA-256 hashes, in order. Computable from a chunk
// list without the bytes (the server checks each chunk against its own hash when it arrives), so a
// client that lies about a file cannot make another client's identical file point at wrong chunks.
import { createHash, type Hash } from 'node:crypto';
import { sha256 } from './sha256';

export class ContentHasher {
  private readonly hash: Hash = createHash('sha256');

  /** Adds the next chunk's 32-byte hash. */
  add(chunkHash: Uint8Array): void {
    this.hash.update(chunkHash);
  }

  digest(): Buffer {
    return this.hash.digest();
  }
}

export function contentHashOf(chunkHashes: readonly Uint8Array[]): Buffer {
  // Most files are one chunk: one hash of its hash, without a Hash object.
  if (chunkHashes.length === 1) return sha256(chunkHashes[0]);
  const hasher = new ContentHasher();
  for (const chunkHash of chunkHashes) hasher.add(chunkHash);
  return hasher.digest();
}
