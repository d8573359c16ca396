// One map from errors to exit codes, for every command (restic's convention where it fits).
import { constants } from 'node:os';
import { BackupError } from '../common/errors';

export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  partial: 3,
  auth: 12,
  /** Ctrl-C (SIGINT); SIGTERM and SIGHUP have their own, signalExitCode(). */
  interrupted: 130,
} as const;

/** A command stopped by a signal it handled ends as the shell says one killed by it does: 128 + its number (SIGINT 130, SIGTERM 143, SIGHUP 129). */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + constants.signals[signal];
}

export function exitCodeOf(error: unknown): number {
  if (!(error instanceof BackupError)) return EXIT.failure;
  switch (error.code) {
    case 'CONFIG': return EXIT.usage;
    case 'INVALID_ARGUMENT': return EXIT.usage;
    case 'AUTH': return EXIT.auth;
    case 'INTERRUPTED': return EXIT.interrupted;
    case 'LOAD_FAILED': return EXIT.partial;
    // Nothing loaded, but the replica's data stands: it follows no backup on this server.
    case 'REPLICA_MISMATCH': return EXIT.partial;
    default: return EXIT.failure;
  }
}
