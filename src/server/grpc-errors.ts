// The one place errors reach the wire: typed errors map to their gRPC status and message,
// anything else becomes INTERNAL with a generic message while the stack goes to the server log.
// What names the server's configuration (an error's logDetail, a ConfigError) stays in the log.
import * as grpc from '@grpc/grpc-js';
import { BackupError, DiskFullError, isDiskFullCode } from '../common/errors';
import type { Logger } from '../common/logger';
import { S3AuthError, S3RequestError } from '../chunkstore/store';

const statusOfCode: Record<string, grpc.status> = {
  AUTH: grpc.status.PERMISSION_DENIED,
  NOT_FOUND: grpc.status.NOT_FOUND,
  CORRUPT: grpc.status.DATA_LOSS,
  PROTOCOL: grpc.status.INVALID_ARGUMENT,
  BUSY: grpc.status.RESOURCE_EXHAUSTED,
  DISK_FULL: grpc.status.RESOURCE_EXHAUSTED,
  LIMIT: grpc.status.RESOURCE_EXHAUSTED,
  CONFIG: grpc.status.FAILED_PRECONDITION,
  DUMP_FAILED: grpc.status.ABORTED,
  INTERRUPTED: grpc.status.CANCELLED,
  INVALID_ARGUMENT: grpc.status.INVALID_ARGUMENT,
};

export function toServiceError(caught: unknown, logger: Logger, context: string): grpc.ServiceError {
  const error = diskFullOf(caught);
  const metadata = new grpc.Metadata();
  if (error instanceof S3RequestError || error instanceof S3AuthError) {
    // The bucket, its keys and its endpoint are the server's business; the client hears that the store is down,
    // never an AUTH code that it would take for its own certificate being refused.
    logger.warn(`${context}: ${error.message}`);
    const message = `the server's object store failed (${error.operation}); the backup or restore was not done (see the server log)`;
    metadata.set('cpsbackup-error-code', 'IO');
    return Object.assign(new Error(message), { code: grpc.status.ABORTED, details: message, metadata });
  }
  if (error instanceof BackupError) {
    metadata.set('cpsbackup-error-code', error.code);
    logger.warn(`${context}: ${error.message}${error.logDetail === undefined ? '' : ` (${error.logDetail})`}`);
    const message = wireMessageOf(error);
    return Object.assign(new Error(message), {
      code: statusOfCode[error.code] ?? grpc.status.UNKNOWN, details: message, metadata,
    });
  }
  logger.error(`${context}: ${(error as Error)?.stack ?? String(error)}`);
  return Object.assign(new Error('internal server error (see the server log)'), {
    code: grpc.status.INTERNAL, details: 'internal server error (see the server log)', metadata,
  });
}

/** Configuration and disk errors name the server's files (its config, its packs): the client hears what happened, not where. */
function wireMessageOf(error: BackupError): string {
  if (error.code === 'CONFIG') return 'the server has a configuration problem (see the server log)';
  if (error.code === 'DISK_FULL') return 'store is full on the server (see the server log)';
  return error.message;
}

/** The catalog (SQLITE_FULL) and any file write (ENOSPC) can hit a full disk, not only pack appends. */
function diskFullOf(error: unknown): unknown {
  const code = (error as { code?: unknown })?.code;
  if (isDiskFullCode(code)) {
    return new DiskFullError(`store is full: ${(error as Error).message} (${String(code)})`, { cause: error });
  }
  return error;
}

/**
 * Ends a streaming call with the error's status. Not destroy(): grpc-js 1.14 sends the status only
 * from end() or an 'error' event, so a destroyed stream leaves the client waiting for ever.
 */
export function failStreamingCall(call: { emit(event: 'error', error: grpc.ServiceError): boolean }, error: unknown, logger: Logger, context: string): void {
  call.emit('error', toServiceError(error, logger, context));
}
