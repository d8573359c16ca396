// Which backups a receiver must load to catch up with a client, from the server's list and the
// last backup it applied: nothing, the partials since, or the whole chain from a complete backup.
import type { BackupSummary } from '../../proto/cpsbackup';
import { restoreChain, unbroken } from '../partial-chain';

/**
 * Returns the backups to load, oldest first; empty when nothing newer than `lastAppliedId` exists.
 * - Never applied, or a complete backup newer than the last applied one: that complete backup
 *   (it replaces the databases) and every partial after it.
 * - Otherwise only the partials after the last applied backup, in order, missed ones included.
 *   That needs the last applied backup still listed: if retention removed it, partials between it
 *   and the next listed one may be gone too, so the plan starts again from the complete backup.
 * Throws NotFoundError (from restoreChain) when the newest backup is a partial with no complete
 * backup before it.
 */
export function planReceive(backups: readonly BackupSummary[], lastAppliedId: number | undefined): BackupSummary[] {
  if (backups.length === 0) return [];
  const newest = backups.reduce((highest, backup) => Math.max(highest, backup.backupId), 0);
  if (lastAppliedId !== undefined && newest <= lastAppliedId) return [];
  const chain = restoreChain(backups, 0);
  if (lastAppliedId === undefined || chain[0].backupId > lastAppliedId) return unbroken(chain);
  const lastApplied = chain.find((backup) => backup.backupId === lastAppliedId);
  if (lastApplied === undefined) return unbroken(chain);
  // Only the links still to load, from the last applied one: a gap before it changes nothing now.
  const plan = chain.filter((backup) => backup.backupId > lastAppliedId);
  unbroken([lastApplied, ...plan]);
  return plan;
}
