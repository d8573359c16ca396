// Retries a request on transient failures with capped exponential backoff and jitter (restic and
// kopia retry every backend call the same way); a 4xx answer is final at once.
import { setTimeout as sleep } from 'node:timers/promises';

export interface RetryPolicy {
  /** Attempts in all, the first included; 1 disables retries. */
  readonly maxAttempts: number;
  /** Wait before the second attempt; doubled for each later one. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

/** About 25 s of waiting in all: enough to ride out a gateway restart (3–5 s on Ceph here). */
export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({ maxAttempts: 8, baseDelayMs: 250, maxDelayMs: 8000 });

/** The wait before attempt number `attempt + 1`: between half and all of the capped exponential delay. */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(ceiling * (0.5 + random() / 2));
}

export interface RetryHooks {
  isTransient(error: unknown): boolean;
  /** Called before each wait, for logs and metrics. */
  onRetry?(error: unknown, attempt: number, delayMs: number): void;
}

/** Runs attempt(1), attempt(2), ... until one resolves, a failure is not transient, or attempts run out. */
export async function withRetries<T>(policy: RetryPolicy, hooks: RetryHooks, attempt: (attempt: number) => Promise<T>): Promise<{ value: T; attempts: number }> {
  for (let number = 1; ; number++) {
    try {
      return { value: await attempt(number), attempts: number };
    } catch (error) {
      if (number >= policy.maxAttempts || !hooks.isTransient(error)) throw new RetriesExhausted(error, number);
      const delay = backoffDelay(policy, number);
      hooks.onRetry?.(error, number, delay);
      await sleep(delay);
    }
  }
}

/** Carries the last failure and how many attempts were made, for the message. */
export class RetriesExhausted extends Error {
  constructor(readonly lastError: unknown, readonly attempts: number) {
    super('retries exhausted');
  }
}
