// How an S3Backend is set up, with the defaults measured on Ceph RGW 16 here, and the SDK client
// built from it: one keep-alive agent per backend, SDK retries off (ours reopen stream bodies).
import http from 'node:http';
import https from 'node:https';
import { S3Client } from '@aws-sdk/client-s3';
import type { Logger } from '../../../common/logger';
import type { S3Credentials } from './credentials';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry';
import type { S3Event } from './s3-requester';

const mebibyte = 1024 * 1024;

export interface S3BackendOptions {
  /** http(s)://host:port of the S3 service; absent for AWS itself. */
  readonly endpoint?: string;
  readonly bucket: string;
  /** Key prefix inside the bucket ("site-a/" or ""). */
  readonly prefix?: string;
  readonly region?: string;
  readonly credentials: S3Credentials;
  /**
   * Objects up to this size go in one conditional PUT, bigger ones as a multipart upload. The
   * default keeps every pack (up to 64 MiB) in one PUT: RGW 16 ignores If-None-Match on
   * CompleteMultipartUpload, so only a single PUT is an atomic never-overwrite there.
   */
  readonly multipartThreshold?: number;
  /** Part size of a multipart upload; S3 wants at least 5 MiB for all but the last part. */
  readonly partSize?: number;
  /** Parts of one upload in flight at once. */
  readonly partConcurrency?: number;
  /** Connections kept to the service (reads beyond this wait for a free socket). */
  readonly maxSockets?: number;
  /** A socket idle this long (a hung gateway) fails the request, which is then retried. */
  readonly socketTimeoutMs?: number;
  readonly retryPolicy?: RetryPolicy;
  /** Retries, uploaded parts and failed aborts, for logs (and tests that act between parts). */
  readonly onEvent?: (event: S3Event) => void;
  /** Where the SDK's own warnings go (socket exhaustion); silent when absent. */
  readonly logger?: Logger;
}

export interface ResolvedS3Options {
  readonly endpoint: string | undefined;
  readonly bucket: string;
  readonly prefix: string;
  readonly region: string;
  readonly multipartThreshold: number;
  readonly partSize: number;
  readonly partConcurrency: number;
  readonly maxSockets: number;
  readonly socketTimeoutMs: number;
  readonly retryPolicy: RetryPolicy;
}

export const MIN_PART_SIZE = 5 * mebibyte;
/** S3's limit on parts per upload. */
export const MAX_PARTS = 10000;

export function resolveS3Options(options: S3BackendOptions, prefix: string): ResolvedS3Options {
  const resolved = {
    endpoint: options.endpoint,
    bucket: options.bucket,
    prefix,
    region: options.region ?? 'us-east-1',
    multipartThreshold: options.multipartThreshold ?? 100 * mebibyte,
    partSize: options.partSize ?? 16 * mebibyte,
    partConcurrency: options.partConcurrency ?? 2,
    maxSockets: options.maxSockets ?? 32,
    socketTimeoutMs: options.socketTimeoutMs ?? 60_000,
    retryPolicy: options.retryPolicy ?? DEFAULT_RETRY_POLICY,
  };
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(resolved.bucket)) {
    throw new RangeError(`s3 bucket name "${resolved.bucket}" must be 3 to 63 lowercase letters, digits, '.' or '-'`);
  }
  if (resolved.partSize < MIN_PART_SIZE) throw new RangeError(`s3 part size ${resolved.partSize} is below S3's minimum of ${MIN_PART_SIZE}`);
  if (resolved.multipartThreshold < 0) throw new RangeError('s3 multipart threshold must not be negative');
  if (!(resolved.partConcurrency >= 1 && resolved.maxSockets >= 1 && resolved.retryPolicy.maxAttempts >= 1)) {
    throw new RangeError('s3 part concurrency, socket count and attempts must be at least 1');
  }
  return Object.freeze(resolved);
}

export interface ClientParts {
  readonly client: S3Client;
  destroy(): void;
}

/**
 * What the SDK logs, as one line: its failed commands come as objects ({ commandName, error, metadata }),
 * which String() made "[object Object]". Never the command's input: it may hold a body or a key.
 */
export function sdkLogText(content: unknown): string {
  if (typeof content !== 'object' || content === null) return String(content);
  if (content instanceof Error) return `${content.name}: ${content.message}`;
  const { commandName, error, metadata } = content as { commandName?: unknown; error?: unknown; metadata?: { httpStatusCode?: unknown } };
  const status = metadata?.httpStatusCode === undefined ? '' : ` (HTTP ${String(metadata.httpStatusCode)})`;
  const failure = error instanceof Error ? `${error.name}: ${error.message}` : error === undefined ? 'failed' : String(error);
  return `${typeof commandName === 'string' ? commandName : 'a request'}: ${failure}${status}`;
}

/**
 * Where the SDK's own log goes. It logs every failed command at error level, and a missing object or
 * bucket is an answer the store asks for (a new bucket's first start, a lease or snapshot not there
 * yet): two "error" lines at every new bucket's start, for nothing wrong. A request that fails for the
 * store reaches its caller, which reports it with what it was doing; what the SDK says is a trace (a
 * failure that a retry then cured leaves no other), so it is a warning.
 */
export function sdkLoggerFor(logger: Logger | undefined): Record<'debug' | 'info' | 'warn' | 'error', (...content: unknown[]) => void> {
  const trace = (...content: unknown[]): void => {
    if (content.some(isNotFoundAnswer)) return;
    logger?.warn(`s3 client: ${content.map(sdkLogText).join(' ')}`);
  };
  return { debug: () => undefined, info: () => undefined, warn: trace, error: trace };
}

function isNotFoundAnswer(content: unknown): boolean {
  if (typeof content !== 'object' || content === null) return false;
  const { metadata, error } = content as { metadata?: { httpStatusCode?: unknown }; error?: { $metadata?: { httpStatusCode?: unknown } } };
  return (metadata?.httpStatusCode ?? error?.$metadata?.httpStatusCode) === 404;
}

export function createS3Client(options: ResolvedS3Options, credentials: S3Credentials, logger: Logger | undefined): ClientParts {
  const agentOptions = { keepAlive: true, maxSockets: options.maxSockets, maxFreeSockets: options.maxSockets };
  const httpAgent = new http.Agent(agentOptions);
  const httpsAgent = new https.Agent(agentOptions);
  const sdkLogger = sdkLoggerFor(logger);
  // The SDK warns on stderr, once per process, that its releases after January 2027 need Node 22: it says
  // nothing about this process, and it broke the one-line errors of every command (gc, check, recover).
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const client = new S3Client({
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint, forcePathStyle: true }),
    region: options.region,
    // A provider function: the secret stays out of the client's enumerable config.
    credentials: () => Promise.resolve(credentials.forSigning()),
    maxAttempts: 1,
    // RGW 16 answers aws-chunked bodies with trailing checksums by 411; we send Content-MD5 instead.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { httpAgent, httpsAgent, connectionTimeout: 10_000, socketTimeout: options.socketTimeoutMs, logger: sdkLogger },
    logger: sdkLogger,
  });
  return {
    client,
    destroy: () => {
      client.destroy();
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}
