// Chunk stores a session has started but not finished, across files: a file's end does not
// wait for its chunks (the main thread would idle while a worker compresses), the next flush does.
export class InFlightWork {
  private readonly pending: { readonly work: Promise<unknown>; readonly bytes: number }[] = [];
  private bytes = 0;

  /**
   * Adds work holding `bytes`; while more than `limitBytes` are held waits for the oldest, which bounds
   * memory. Undefined when nothing must be waited for: called per chunk, and a promise each was a
   * collector's load on the server.
   */
  add(work: Promise<unknown>, bytes: number, limitBytes: number): Promise<void> | undefined {
    work.catch(() => undefined); // awaited below or by drain(); this only avoids an early unhandled warning
    this.pending.push({ work, bytes });
    this.bytes += bytes;
    return this.bytes > limitBytes ? this.takeUntil(limitBytes) : undefined;
  }

  private async takeUntil(limitBytes: number): Promise<void> {
    while (this.bytes > limitBytes) await this.takeOldest();
  }

  /** Waits for everything added so far; rejects with the first failure. */
  async drain(): Promise<void> {
    while (this.pending.length > 0) await this.takeOldest();
  }

  private async takeOldest(): Promise<void> {
    const oldest = this.pending.shift()!;
    this.bytes -= oldest.bytes;
    await oldest.work;
  }
}
