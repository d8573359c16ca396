// Chunk stores a session has started but not finished, across files: a file's end does not
// wait for its chunks (the main thread would idle while a worker compresses), the next flush does.
export class InFlightWork {
  private readonly pending: Promise<unknown>[] = [];

  /** Adds work; while more than `limit` are outstanding waits for the oldest, which bounds memory. */
  async add(work: Promise<unknown>, limit: number): Promise<void> {
    work.catch(() => undefined); // awaited below or by drain(); this only avoids an early unhandled warning
    this.pending.push(work);
    while (this.pending.length > limit) await this.pending.shift();
  }

  /** Waits for everything added so far; rejects with the first failure. */
  async drain(): Promise<void> {
    while (this.pending.length > 0) await this.pending.shift();
  }
}
