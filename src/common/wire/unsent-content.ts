// Bytes of file content written to a grpc-js stream and not yet called back, for a sender that waits
// on them as well as on grpc-js's count of 16 messages (server restore, client upload): one count and
// the writes waiting on it.

export class UnsentContent {
  private bytes = 0;
  private waiting: (() => void)[] = [];

  /** Counts `bytes` as unsent; returns the write's callback, which counts them as sent and wakes the waiting. */
  written(bytes: number): () => void {
    this.bytes += bytes;
    return () => {
      this.bytes -= bytes;
      this.wakeAll();
    };
  }

  isOver(limit: number): boolean {
    return this.bytes > limit;
  }

  /** Resolves at the next callback or wakeAll(): the caller checks again whether to go on waiting. */
  nextChange(): Promise<void> {
    return new Promise((resolve) => { this.waiting.push(resolve); });
  }

  /** Ends every wait (a callback came, or the call failed or ended and none will). */
  wakeAll(): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const wake of waiting) wake();
  }
}
