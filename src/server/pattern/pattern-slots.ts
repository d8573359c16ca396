// How many pattern workers each client may have at once. A costly pattern holds a worker, not the event
// loop (path-matcher.ts), but a client opening dozens of such calls would still take every core from it.
import { BusyError } from '../../common/errors';

/** Two: a person may run a --find beside a restore with -r; a third at once is a script, or an attack. */
export const MAX_PATTERN_CALLS_PER_CLIENT = 2;

export class PatternSlots {
  private readonly running = new Map<string, number>();

  /** Claims a slot for the caller's pattern; returns its release (idempotent). Throws BusyError past the limit. */
  claim(callerName: string): () => void {
    const count = this.running.get(callerName) ?? 0;
    if (count >= MAX_PATTERN_CALLS_PER_CLIENT) {
      throw new BusyError(`client "${callerName}" already has ${count} calls matching a pattern (--find, restore -r) running, `
        + `the most one client may have at once; try again when one has ended`);
    }
    this.running.set(callerName, count + 1);
    let isReleased = false;
    return () => {
      if (isReleased) return;
      isReleased = true;
      const left = (this.running.get(callerName) ?? 1) - 1;
      if (left === 0) this.running.delete(callerName);
      else this.running.set(callerName, left);
    };
  }
}
