// Chunk stores a session has started but not finished, across files: a file's end does not
// wait for its chunks (the main thread would idle while a worker compresses), the next flush does.

/**
 * What each piece of work is charged at least, whatever its size: its promise, record and pack record
 * cost memory of their own, and a client may send chunks of one byte. Charged their raw size alone,
 * 8 MiB in flight was a million pieces, and draining them took minutes of the server's only thread.
 */
export const MIN_CHARGED_BYTES = 4096;

export class InFlightWork {
  /** The work not taken yet is pending[head..]: shift() moved the whole array for every piece taken. */
  private pending: { readonly work: Promise<unknown>; readonly bytes: number }[] = [];
  private head = 0;
  private bytes = 0;

  /** Pieces of work added and not yet taken. */
  get count(): number {
    return this.pending.length - this.head;
  }

  /**
   * Adds work holding `bytes` (charged at least MIN_CHARGED_BYTES); while more than `limitBytes` are
   * held waits for the oldest, which bounds memory and the number of pieces. Undefined when nothing
   * must be waited for: called per chunk, and a promise each was a collector's load on the server.
   */
  add(work: Promise<unknown>, bytes: number, limitBytes: number): Promise<void> | undefined {
    work.catch(() => undefined); // awaited below or by drain(); this only avoids an early unhandled warning
    const charged = Math.max(bytes, MIN_CHARGED_BYTES);
    this.pending.push({ work, bytes: charged });
    this.bytes += charged;
    return this.bytes > limitBytes ? this.takeUntil(limitBytes) : undefined;
  }

  private async takeUntil(limitBytes: number): Promise<void> {
    while (this.bytes > limitBytes) await this.takeOldest();
  }

  /** Waits for everything added so far; rejects with the first failure. */
  async drain(): Promise<void> {
    while (this.count > 0) await this.takeOldest();
  }

  private async takeOldest(): Promise<void> {
    const oldest = this.pending[this.head++];
    if (this.head === this.pending.length) {
      this.pending = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.pending.length) {
      // Compacted once the taken half dominates: the array never holds more than twice what is pending.
      this.pending = this.pending.slice(this.head);
      this.head = 0;
    }
    this.bytes -= oldest.bytes;
    await oldest.work;
  }
}
