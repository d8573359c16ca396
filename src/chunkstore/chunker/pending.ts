// The bytes of the chunk in progress that arrived in earlier push() calls.
// Tails are copied when kept, so a caller may reuse its buffers and a huge push is not retained.

export class PendingBytes {
  private pieces: Buffer[] = [];
  private total = 0;

  get length(): number {
    return this.total;
  }

  /** Keeps a copy of `data[start..]` for the next push(). */
  keepTail(data: Buffer, start: number): void {
    if (start >= data.length) return;
    this.pieces.push(Buffer.from(data.subarray(start)));
    this.total += data.length - start;
  }

  /** Returns the kept bytes followed by `data[0..end)` as one chunk, and forgets them. */
  takeWith(data: Buffer, end: number): Buffer {
    if (this.total === 0) return data.subarray(0, end);
    // A single kept piece is already a private copy: no need to copy it again.
    const chunk = end === 0 && this.pieces.length === 1
      ? this.pieces[0]
      : Buffer.concat([...this.pieces, data.subarray(0, end)], this.total + end);
    this.clear();
    return chunk;
  }

  clear(): void {
    this.pieces = [];
    this.total = 0;
  }
}
