// Gives the event loop a turn during long stretches of work that never waits for I/O. A walk of
// unchanged files (cached stat calls, entries queued without backpressure) runs without ever letting
// the event loop turn: until it ended, no message reached the socket and no answer was read, so the
// server sat idle through the walk and the client through the server's work after it. The server
// needs the same between the batches of a parent index and between carried runs.
import { performance } from 'node:perf_hooks';

/** Work between turns: short enough that sends and answers keep flowing, long enough to cost nothing. */
const SLICE_MS = 4;

export class LoopYield {
  private sliceStart = performance.now();

  /**
   * Within a slice, undefined at once (no promise made: a walk calls this per entry); after SLICE_MS of
   * work, a promise that settles after one turn of the event loop.
   */
  turn(): Promise<void> | undefined {
    if (performance.now() - this.sliceStart < SLICE_MS) return undefined;
    return new Promise<void>((resolve) => setImmediate(resolve)).then(() => { this.sliceStart = performance.now(); });
  }
}
