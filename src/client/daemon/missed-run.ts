// Whether the daemon missed a scheduled complete backup while it was down: the newest committed
// complete backup finished before the schedule's last fire time (or there is none at all).
import { BackupKind, type BackupSummary } from '../../proto/cpsbackup';

/**
 * `previousFire`: the schedule's last fire time before now (undefined: it never fired yet).
 * A backup counts by its finish time: one started just before the fire time and still running
 * across it covers that slot, as a manual `cpsbackup -e` does.
 */
export function isCompleteBackupMissed(backups: readonly BackupSummary[], previousFire: number | undefined): boolean {
  if (previousFire === undefined) return false;
  const newestFinish = Math.max(-Infinity, ...backups
    .filter((backup) => backup.kind === BackupKind.BACKUP_KIND_COMPLETE)
    .map((backup) => backup.finishedAtMs));
  return newestFinish < previousFire;
}
