// Which backups a receiver must load to catch up with a client, from the server's list and the
// last backup it applied: nothing, the partials since, or the whole chain from a complete backup.
import { ReplicaMismatchError } from '../../common/errors';
import type { BackupSummary } from '../../proto/cpsbackup';
import { isPartial, restoreChain, unbroken } from '../partial-chain';

/** The backup a receiver last applied, as it was listed then: a bare id names another backup after a server change. */
export interface AppliedBackup {
  readonly backupId: number;
  readonly startedAtMs: number;
  readonly kind: 'complete' | 'partial';
}

export interface ReceivePlan {
  /** Oldest first; empty when nothing newer than the applied backup exists. */
  readonly load: BackupSummary[];
  /**
   * Set when the applied backup is not on the server as it was applied (the same number names another
   * backup, or the numbers went back): the server was replaced or rebuilt. The plan then starts from
   * a complete backup, never a partial on what this replica holds; the caller must say so loudly.
   */
  readonly rebased?: string;
}

/** Whether `backup` is the very backup applied, not one that took its number since. */
export function isAppliedBackup(backup: BackupSummary, applied: AppliedBackup): boolean {
  return backup.backupId === applied.backupId && backup.startedAtMs === applied.startedAtMs
    && (isPartial(backup) ? 'partial' : 'complete') === applied.kind;
}

function describe(backup: { readonly backupId: number; readonly startedAtMs: number }): string {
  return `backup ${backup.backupId} (started ${new Date(backup.startedAtMs).toISOString()})`;
}

/**
 * - Never applied, or a complete backup newer than the last applied one: that complete backup
 *   (it replaces the databases) and every partial after it.
 * - Otherwise only the partials after the last applied backup, in order, missed ones included.
 *   That needs the last applied backup still listed: if retention removed it, partials between it
 *   and the next listed one may be gone too, so the plan starts again from the complete backup.
 * - The applied backup not listed as applied, while its number is listed or no number above it is:
 *   `rebased`, from the complete backup, when the newest listed backup started after the applied one;
 *   otherwise ReplicaMismatchError (this replica holds newer data than the server: loading would take
 *   it back in time, and "nothing new" would hide that it no longer follows anything).
 * Throws NotFoundError (from restoreChain) when the newest backup is a partial with no complete
 * backup before it. `client` only names the sender in messages.
 */
export function planReceive(backups: readonly BackupSummary[], applied: AppliedBackup | undefined, client = 'the client'): ReceivePlan {
  const newest = backups.reduce<BackupSummary | undefined>((highest, backup) => (highest === undefined || backup.backupId > highest.backupId ? backup : highest), undefined);
  const listed = applied === undefined ? undefined : backups.find((backup) => backup.backupId === applied.backupId);
  if (applied !== undefined && (listed === undefined ? newest === undefined || newest.backupId < applied.backupId : !isAppliedBackup(listed, applied))) {
    const what = `${describe(applied)} of ${client}, the last one applied here, is not on the server: `
      + `${listed === undefined ? `its newest backup is ${newest === undefined ? 'none' : describe(newest)}` : `its ${describe(listed)} is another backup`}`
      + '; the backup server was replaced or rebuilt, or its backups were deleted';
    if (newest === undefined || newest.startedAtMs <= applied.startedAtMs) {
      throw new ReplicaMismatchError(`${what}; nothing newer than what this replica holds: nothing loaded `
        + '(remove the receive state file to load the newest backup anyway)');
    }
    return { load: unbroken(restoreChain(backups, 0)), rebased: `${what}; loading ${client}'s newest complete backup and the partials after it` };
  }
  if (newest === undefined || (applied !== undefined && newest.backupId <= applied.backupId)) return { load: [] };
  const chain = restoreChain(backups, 0);
  if (applied === undefined || listed === undefined || chain[0].backupId > applied.backupId) return { load: unbroken(chain) };
  // Only the links still to load, from the last applied one: a gap before it changes nothing now.
  const plan = chain.filter((backup) => backup.backupId > applied.backupId);
  unbroken([listed, ...plan]);
  return { load: plan };
}
