// A costly figure measured once at a time and reused until it is maxAgeMs old: the status port's
// store figures walk the whole store, so their cost must not grow with the requests (anyone local may send them).

export interface Measured<T> {
  readonly value: T;
  /** When the measurement that gave `value` started (ms since 1970): the figure is at least this fresh. */
  readonly measuredAt: number;
}

/**
 * Callers may rely on: at most one `measure()` runs at any time, and every caller asking while it runs gets
 * its result; a result is reused for maxAgeMs after its measurement ended (0: the next caller measures again); a failed
 * measurement is given to the callers that waited for it and not kept, so the next caller measures again.
 */
export class CachedMeasurement<T> {
  private latest: Measured<T> | undefined;
  /** maxAgeMs after the latest measurement ended: a walk longer than maxAgeMs must not be followed by another at once. */
  private reusableUntil = Number.NEGATIVE_INFINITY;
  private running: Promise<Measured<T>> | undefined;
  private started = 0;

  constructor(
    private readonly measure: () => Promise<T>,
    private readonly maxAgeMs: number,
    private readonly clock: () => number = Date.now,
  ) {}

  /** How many measurements were started: what the cache saves is the requests beyond this. */
  get measurements(): number {
    return this.started;
  }

  current(): Promise<Measured<T>> {
    const latest = this.latest;
    if (latest !== undefined && this.clock() < this.reusableUntil) return Promise.resolve(latest);
    // Cleared on a later turn: a measure() that throws at once would clear it before it was set, for good.
    this.running ??= this.measureOnce().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async measureOnce(): Promise<Measured<T>> {
    this.started += 1;
    const measuredAt = this.clock();
    const measured = { value: await this.measure(), measuredAt };
    this.latest = measured;
    this.reusableUntil = this.clock() + this.maxAgeMs;
    return measured;
  }
}
