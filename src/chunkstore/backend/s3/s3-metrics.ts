// Per-operation request counters for the object store: requests, errors, retries, bytes and latency
// (sum and a cumulative histogram), as a plain object the status page and /metrics can publish.
import { S3_OPERATIONS, type S3Operation } from './s3-errors';

/** Upper bounds (seconds) of the latency histogram, Prometheus-style; +Inf is `count`. */
export const LATENCY_BOUNDS_SECONDS: readonly number[] = Object.freeze([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]);

export interface OperationStats {
  /** HTTP requests made (each attempt counts). */
  readonly requests: number;
  /** Requests that failed, transient or not. */
  readonly errors: number;
  /** Requests repeated after a transient failure. */
  readonly retries: number;
  /** Payload bytes sent (puts, parts) or received (gets). */
  readonly bytes: number;
  readonly latencySecondsSum: number;
  /** Cumulative: bucket i counts requests that took at most LATENCY_BOUNDS_SECONDS[i]. */
  readonly latencyBuckets: readonly number[];
}

export type S3Stats = Readonly<Record<S3Operation, OperationStats>>;

interface Counters {
  requests: number;
  errors: number;
  retries: number;
  bytes: number;
  latencySecondsSum: number;
  buckets: number[];
}

export class S3Metrics {
  private readonly counters = new Map<S3Operation, Counters>();

  constructor() {
    for (const operation of S3_OPERATIONS) {
      this.counters.set(operation, { requests: 0, errors: 0, retries: 0, bytes: 0, latencySecondsSum: 0, buckets: LATENCY_BOUNDS_SECONDS.map(() => 0) });
    }
  }

  request(operation: S3Operation, seconds: number, bytes: number, isError: boolean): void {
    const counters = this.of(operation);
    counters.requests += 1;
    counters.bytes += bytes;
    if (isError) counters.errors += 1;
    counters.latencySecondsSum += seconds;
    LATENCY_BOUNDS_SECONDS.forEach((bound, index) => {
      if (seconds <= bound) counters.buckets[index] += 1;
    });
  }

  retry(operation: S3Operation): void {
    this.of(operation).retries += 1;
  }

  /** A copy: later requests do not change it. */
  snapshot(): S3Stats {
    const result = {} as Record<S3Operation, OperationStats>;
    for (const [operation, counters] of this.counters) {
      result[operation] = Object.freeze({
        requests: counters.requests,
        errors: counters.errors,
        retries: counters.retries,
        bytes: counters.bytes,
        latencySecondsSum: counters.latencySecondsSum,
        latencyBuckets: Object.freeze([...counters.buckets]),
      });
    }
    return Object.freeze(result);
  }

  private of(operation: S3Operation): Counters {
    const counters = this.counters.get(operation);
    if (counters === undefined) throw new RangeError(`unknown s3 operation ${operation}`);
    return counters;
  }
}
