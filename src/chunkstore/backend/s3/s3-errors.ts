// What went wrong talking to the object store, in the store's own typed errors: every message names
// the operation and s3://bucket/key, never a credential; and which failures are worth retrying.
import { AuthError, BackupError, NotFoundError } from '../../../common/errors';

export type S3Operation =
  | 'put' | 'upload-part' | 'create-upload' | 'complete-upload' | 'abort-upload' | 'list-uploads'
  | 'get' | 'head' | 'list' | 'delete' | 'head-bucket' | 'create-bucket';

export const S3_OPERATIONS: readonly S3Operation[] = Object.freeze([
  'put', 'upload-part', 'create-upload', 'complete-upload', 'abort-upload', 'list-uploads',
  'get', 'head', 'list', 'delete', 'head-bucket', 'create-bucket',
]);

/** The facts of one failed request, read from the SDK's error or a network error. */
export interface FailureFacts {
  /** HTTP status, absent when no answer came (refused, reset, timed out). */
  readonly status: number | undefined;
  /** S3 error code (NoSuchKey, SlowDown, ...) or the network error code (ECONNRESET, ...). */
  readonly code: string;
  readonly isTransient: boolean;
}

/** Thrown by our own code for a failure that another attempt may not repeat (a body cut short). */
export class TransientS3Failure extends Error {
  constructor(message: string, readonly code = 'ShortBody') {
    super(message);
    this.name = 'TransientS3Failure';
  }
}

/**
 * S3 codes that come with a 4xx status yet mean "try again" (AWS sends RequestTimeout as 400).
 * RequestTimeTooSkewed (403): the SDK corrects its clock offset from the answer's Date, so the next attempt
 * may pass. BadDigest (400): the bytes arrived different from their Content-MD5 and nothing was stored; an
 * attempt re-sends them from the staged file.
 */
const transientCodes = new Set(['RequestTimeout', 'RequestTimeTooSkewed', 'BadDigest', 'SlowDown', 'Throttling', 'ThrottlingException',
  'RequestLimitExceeded', 'TooManyRequests', 'InternalError', 'ServiceUnavailable']);

export function failureFacts(error: unknown): FailureFacts {
  if (error instanceof TransientS3Failure) return { status: undefined, code: error.code, isTransient: true };
  // Our own verdicts (an object that exists, a short object) are final.
  if (error instanceof BackupError) return { status: undefined, code: error.code, isTransient: false };
  const details = (typeof error === 'object' && error !== null ? error : {}) as {
    $metadata?: { httpStatusCode?: number }; Code?: string; code?: string; name?: string;
  };
  const status = details.$metadata?.httpStatusCode;
  const code = details.Code ?? (typeof details.code === 'string' ? details.code : undefined) ?? details.name ?? 'Error';
  if (status === undefined) {
    // No HTTP answer: a refused or reset connection, a timeout, a socket closed mid-body. Programming
    // errors (a TypeError in our own code) are not worth a retry.
    const isProgramError = error instanceof TypeError || error instanceof RangeError || error instanceof SyntaxError;
    return { status, code, isTransient: !isProgramError };
  }
  const isTransient = status >= 500 || status === 429 || status === 408 || transientCodes.has(code);
  return { status, code, isTransient };
}

/** Where a request went, for messages. */
export interface RequestPlace {
  readonly operation: S3Operation;
  readonly bucket: string;
  readonly key: string | undefined;
  readonly endpoint: string;
}

export function placeText(place: RequestPlace): string {
  return `s3 ${place.operation} s3://${place.bucket}/${place.key ?? ''}`;
}

/** A request the object store refused or that never got an answer; an I/O error, never corruption. */
export class S3RequestError extends BackupError {
  readonly operation: S3Operation;
  readonly bucket: string;
  readonly key: string | undefined;
  readonly status: number | undefined;
  readonly s3Code: string;
  readonly isTransient: boolean;
  readonly attempts: number;
  constructor(place: RequestPlace, facts: FailureFacts, attempts: number, detail: string, options?: { cause?: unknown }) {
    super('IO', `${placeText(place)}: ${detail}${attempts > 1 ? ` (after ${attempts} attempts)` : ''}`, options);
    this.operation = place.operation;
    this.bucket = place.bucket;
    this.key = place.key;
    this.status = facts.status;
    this.s3Code = facts.code;
    this.isTransient = facts.isTransient;
    this.attempts = attempts;
  }
}

/** The object store refused our identity or signature (HTTP 403). */
export class S3AuthError extends AuthError {
  readonly operation: S3Operation;
  readonly bucket: string;
  constructor(place: RequestPlace, code: string, credentialsSource: string) {
    super(`${placeText(place)}: access denied by ${place.endpoint} (${code}, HTTP 403); `
      + `check the access key and secret in ${credentialsSource}, and the user's rights on bucket ${place.bucket}`);
    this.operation = place.operation;
    this.bucket = place.bucket;
  }
}

/**
 * Turns the last failure of a request into the error callers see. Only the status, the S3 code and
 * a short server text are used: SDK messages never carry the secret, and we add nothing that could.
 */
export function toBackendError(place: RequestPlace, error: unknown, attempts: number, credentialsSource: string): Error {
  if (error instanceof BackupError) return error;
  const facts = failureFacts(error);
  // A 403, but the keys are fine: telling the operator to check them would send them the wrong way.
  if (facts.code === 'RequestTimeTooSkewed') {
    return new S3RequestError(place, facts, attempts, `${place.endpoint} refused the request's time (RequestTimeTooSkewed`
      + `${facts.status === undefined ? '' : `, HTTP ${facts.status}`}): this machine's clock differs from the service's by more than it `
      + 'allows (15 minutes on AWS); set the clock right (NTP)', { cause: error });
  }
  // Also a 403 with fine keys: Ceph's and MinIO's answer to a bucket or user quota.
  if (facts.code === 'QuotaExceeded') {
    return new S3RequestError(place, facts, attempts, `${place.endpoint} refused the write: the quota of bucket ${place.bucket} or its user is `
      + 'exceeded (QuotaExceeded, HTTP 403); raise the quota, or free space (delete backups, then gc)', { cause: error });
  }
  if (facts.status === 403 || ['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied'].includes(facts.code)) {
    return new S3AuthError(place, facts.code, credentialsSource);
  }
  if (facts.code === 'NoSuchBucket') {
    return new S3RequestError(place, facts, attempts, `bucket ${place.bucket} does not exist at ${place.endpoint}`, { cause: error });
  }
  if (facts.status === 404 && place.key !== undefined && place.operation !== 'complete-upload' && place.operation !== 'upload-part') {
    return new NotFoundError(`${placeText(place)}: no such object`);
  }
  return new S3RequestError(place, facts, attempts, describe(place, facts, error), { cause: error });
}

function describe(place: RequestPlace, facts: FailureFacts, error: unknown): string {
  // An answer came, but cut short: not "no answer".
  if (error instanceof TransientS3Failure) return `a short answer from ${place.endpoint} (${facts.code}: ${shorten(error.message)})`;
  if (facts.status === undefined) {
    const text = error instanceof Error ? error.message : String(error);
    return `no answer from ${place.endpoint} (${facts.code}${text && text !== facts.code ? `: ${shorten(text)}` : ''})`;
  }
  const text = error instanceof Error && error.message && error.message !== 'UnknownError' ? `: ${shorten(error.message)}` : '';
  return `HTTP ${facts.status} ${facts.code}${text}`;
}

function shorten(text: string): string {
  const line = text.split('\n')[0];
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}
