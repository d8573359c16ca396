// Runs one logical S3 request: retries transient failures with backoff, counts every attempt in the
// metrics, reports retries as events, and turns the final failure into a typed error naming the object.
import { performance } from 'node:perf_hooks';
import type { S3Client } from '@aws-sdk/client-s3';
import { failureFacts, toBackendError, type S3Operation } from './s3-errors';
import type { S3Metrics } from './s3-metrics';
import { RetriesExhausted, withRetries, type RetryPolicy } from './retry';

/** What the backend tells its owner about, for logs: nothing here carries a credential. */
export type S3Event =
  | { readonly type: 'retry'; readonly operation: S3Operation; readonly bucket: string; readonly key: string | undefined;
    readonly attempt: number; readonly delayMs: number; readonly reason: string }
  | { readonly type: 'part-uploaded'; readonly key: string; readonly partNumber: number; readonly partCount: number }
  | { readonly type: 'abort-failed'; readonly key: string; readonly reason: string };

export interface RequesterSettings {
  readonly client: S3Client;
  readonly bucket: string;
  readonly endpoint: string;
  readonly metrics: S3Metrics;
  readonly retryPolicy: RetryPolicy;
  /** Named in authentication errors ("check the keys in ..."). */
  readonly credentialsSource: string;
  readonly onEvent: ((event: S3Event) => void) | undefined;
}

export class S3Requester {
  constructor(readonly settings: RequesterSettings) {}

  get client(): S3Client {
    return this.settings.client;
  }

  get bucket(): string {
    return this.settings.bucket;
  }

  /**
   * attempt(n) must redo the whole request (reopen any body stream): a retried stream body would
   * otherwise be sent half-consumed. bytesOf counts a successful attempt's payload for the metrics.
   */
  async run<T>(operation: S3Operation, key: string | undefined, attempt: (attempt: number) => Promise<T>,
    bytesOf: (value: T) => number = () => 0): Promise<T> {
    const { metrics, retryPolicy, onEvent, bucket } = this.settings;
    try {
      const { value } = await withRetries(retryPolicy, {
        isTransient: (error) => failureFacts(error).isTransient,
        onRetry: (error, number, delayMs) => {
          metrics.retry(operation);
          const facts = failureFacts(error);
          const reason = facts.status === undefined ? facts.code : `HTTP ${facts.status} ${facts.code}`;
          onEvent?.({ type: 'retry', operation, bucket, key, attempt: number, delayMs, reason });
        },
      }, async (number) => {
        const started = performance.now();
        try {
          const value = await attempt(number);
          metrics.request(operation, (performance.now() - started) / 1000, bytesOf(value), false);
          return value;
        } catch (error) {
          metrics.request(operation, (performance.now() - started) / 1000, 0, true);
          throw error;
        }
      });
      return value;
    } catch (error) {
      const last = error instanceof RetriesExhausted ? error : new RetriesExhausted(error, 1);
      throw toBackendError({ operation, bucket, key, endpoint: this.settings.endpoint }, last.lastError, last.attempts, this.settings.credentialsSource);
    }
  }
}
