// The contract every content-defined chunker implements: bytes in, chunks out.
// Boundaries depend only on content, so the same bytes always give the same chunks.

export type ChunkerName = 'fastcdc' | 'rabin';

/** Sizes in bytes. A chunk is never shorter than minSize (except the last of a stream) nor longer than maxSize. */
export interface ChunkerParams {
  readonly name: ChunkerName;
  readonly minSize: number;
  readonly avgSize: number;
  readonly maxSize: number;
}

/**
 * Splits one stream. Chunk boundaries do not depend on how the stream is cut into push()
 * calls. After finish() the chunker is ready for a new stream.
 */
export interface Chunker {
  /** Feeds the next bytes of one stream; returns each chunk completed by them, in order.
   *  The caller owns the returned buffers; the chunker never keeps more than maxSize bytes.
   *  Returned chunks may share memory with `data`: do not modify `data` after pushing it. */
  push(data: Buffer): Buffer[];
  /** Ends the stream: returns the remaining bytes as the last chunk (none for an empty stream). */
  finish(): Buffer[];
}

/** Makes independent chunkers with the same parameters; create() is cheap and synchronous. */
export interface ChunkerFactory {
  readonly params: ChunkerParams;
  create(): Chunker;
}
