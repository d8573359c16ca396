// One signal for every read of a backup that can wait on another process (a dump's FIFO, a FIFO read
// with read_all_fifos): aborted once the upload failed or the backup was interrupted, so such a read ends
// then instead of when its writer writes again, which a stalled one never does.

export class StopReading {
  private readonly controller = new AbortController();
  private readonly onInterrupt = (): void => this.controller.abort(this.interruption?.reason);

  /**
   * callEnded: settles when the upload call ends (its commit confirmed, or it failed or was ended by the
   * server); interruption: Ctrl-C of -e, or the daemon stopped by force.
   */
  constructor(callEnded: Promise<unknown>, private readonly interruption: AbortSignal | undefined) {
    callEnded.catch((error: unknown) => this.controller.abort(error));
    if (interruption?.aborted === true) this.onInterrupt();
    else interruption?.addEventListener('abort', this.onInterrupt, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /**
   * Runs one read that can wait on a writer (a dump's FIFO, a read_all_fifos FIFO): once the backup has
   * ended or been interrupted, stop(reason) ends it (its stream destroyed with that reason, never as the
   * content's end). Refused at once when that has already happened.
   */
  async during<T>(stop: (reason: Error) => void, read: () => Promise<T>): Promise<T> {
    this.signal.throwIfAborted();
    const onStop = (): void => stop(reasonOf(this.signal));
    this.signal.addEventListener('abort', onStop, { once: true });
    try {
      return await read();
    } finally {
      this.signal.removeEventListener('abort', onStop);
    }
  }

  /** At the backup's end: a daemon's signal outlives its jobs, and must not gather one listener per backup. */
  dispose(): void {
    this.interruption?.removeEventListener('abort', this.onInterrupt);
  }
}

/** The signal's reason as the Error a stream is destroyed with. */
function reasonOf(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new Error(String(reason));
}
