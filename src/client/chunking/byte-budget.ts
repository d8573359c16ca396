// Bytes a pipeline may hold at once: take() waits while the budget is spent, release() gives back.
// What bounds the client's memory while chunks wait for the server's answer and for compression.

export class ByteBudget {
  private available: number;
  private readonly waiting: { bytes: number; resolve: () => void }[] = [];
  /** Abandoned: every take resolves at once, now and later (nothing will release what is held). */
  private isAbandoned = false;

  constructor(private readonly limit: number) {
    this.available = limit;
  }

  /** Resolves once `bytes` are available (at once when the budget is empty: one item may exceed it). */
  take(bytes: number): Promise<void> {
    if (this.isAbandoned) return Promise.resolve();
    if (this.waiting.length === 0 && (this.available >= bytes || this.available === this.limit)) {
      this.available -= bytes;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push({ bytes, resolve }));
  }

  /** Whether take(bytes) would resolve at once. */
  canTake(bytes: number): boolean {
    return this.isAbandoned || this.waiting.length === 0 && (this.available >= bytes || this.available === this.limit);
  }

  /**
   * Lets every waiter go, and every later taker (the pipeline failed: they must see the failure, not
   * wait for ever). A take after the failure once waited for a release that never came, with nothing
   * else left to run, and the CLI ended with "internal error: the work stopped before it finished".
   */
  abandon(): void {
    this.isAbandoned = true;
    for (const waiter of this.waiting.splice(0)) waiter.resolve();
  }

  release(bytes: number): void {
    this.available += bytes;
    while (this.waiting.length > 0 && (this.available >= this.waiting[0].bytes || this.available === this.limit)) {
      const next = this.waiting.shift()!;
      this.available -= next.bytes;
      next.resolve();
    }
  }
}
