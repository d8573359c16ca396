// One map from errors to exit codes, for every command (restic's convention where it fits).
import { BackupError } from '../common/errors';

export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  partial: 3,
  auth: 12,
  interrupted: 130,
} as const;

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
