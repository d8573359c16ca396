// Tells the server of a backup that failed on this client before its Upload reached the server (a
// pre script, a dump source that cannot connect, a broken storage.conf), so the status port and the
// server's notifications see it; a failure after the Upload began the server has seen for itself.
import * as grpc from '@grpc/grpc-js';
import type { NodeConfig } from '../common/config/node-config';
import { AuthError, BusyError, errorMessage } from '../common/errors';
import type { BackupKind } from '../proto/cpsbackup';
import { connectToServer } from './connection';
import { fromServiceError, ServerUnreachableError } from './remote-error';

/** Set on an error by runBackup once its Upload was opened: the server records that attempt itself. */
const REACHED_SERVER = Symbol('cpsbackup.reachedServer');
/** What the client sends at most; the server cuts to the same (received-text.ts) whatever a client sends. */
const REASON_LENGTH = 4096;
/** A report never holds up the exit or the daemon's next job for long. */
const REPORT_TIMEOUT_SECONDS = 15;

export interface FailedAttempt {
  readonly kind: BackupKind;
  readonly isScheduled: boolean;
  /** An attempt stopped on purpose (a signal, the daemon stopping) did not fail: nothing is reported. */
  readonly signal?: AbortSignal;
}

export function markReachedServer(error: unknown): void {
  if (typeof error === 'object' && error !== null && !(REACHED_SERVER in error)) {
    Object.defineProperty(error, REACHED_SERVER, { value: true });
  }
}

function hasReachedServer(error: unknown): boolean {
  return typeof error === 'object' && error !== null && REACHED_SERVER in error;
}

/**
 * Runs a backup; if it fails before reaching the server, reports the failure, then rethrows the
 * original error unchanged (its exit code included). What went wrong with the report goes to onNote.
 */
export async function withFailureReport<T>(config: NodeConfig, attempt: FailedAttempt, onNote: (note: string) => void, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (!hasReachedServer(error) && attempt.signal?.aborted !== true) {
      const note = await reportFailure(config, attempt, errorMessage(error));
      // A server this client could not reach, that refused it, or that is stopping or busy, cannot be told
      // either (the report meets the same answer): the error says so already.
      const isSaidAlready = error instanceof ServerUnreachableError || error instanceof AuthError || error instanceof BusyError;
      if (note !== undefined && !isSaidAlready) onNote(note);
    }
    throw error;
  }
}

/** Never throws: undefined once the server has it, else a sentence on why it has not. */
export async function reportFailure(config: NodeConfig, attempt: FailedAttempt, reason: string): Promise<string | undefined> {
  const cut = reason.length > REASON_LENGTH ? `${reason.slice(0, REASON_LENGTH - 1)}…` : reason;
  let client: ReturnType<typeof connectToServer> | undefined;
  try {
    client = connectToServer(config);
    const deadline = Date.now() + Math.min(REPORT_TIMEOUT_SECONDS, config.networkTimeoutSeconds) * 1000;
    await new Promise<void>((resolve, reject) => {
      client!.reportFailure({ reason: cut, kind: attempt.kind, isScheduled: attempt.isScheduled }, new grpc.Metadata(), { deadline },
        (error) => (error ? reject(error) : resolve()));
    });
    return undefined;
  } catch (error) {
    if ((error as Partial<grpc.ServiceError>).code === grpc.status.UNIMPLEMENTED) {
      return 'the backup server is older and does not record failures that happen on the client; only this log has it';
    }
    return `the backup server could not be told of this failure: ${errorMessage(fromServiceError(error, `${config.server}:${config.port}`))}`;
  } finally {
    client?.close();
  }
}
