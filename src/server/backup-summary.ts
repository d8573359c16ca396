// Builds the wire's BackupSummary from a catalog record.
import type { BackupRecord } from '../chunkstore/store';
import type { BackupSummary } from '../proto/cpsbackup';
import { shownBackupText } from './received-begin';

export function backupSummaryOf(backup: BackupRecord, deletable: boolean): BackupSummary {
  const { hostname, labels } = shownBackupText(backup.hostname, backup.labels);
  return {
    backupId: backup.number,
    startedAtMs: backup.startedAt,
    finishedAtMs: backup.finishedAt ?? 0,
    files: backup.files,
    logicalBytes: backup.logicalBytes,
    newBytes: backup.newBytes,
    storedBytes: backup.storedBytes,
    kind: backup.kind,
    labels,
    // A protected backup is refused by Delete, so it is never offered as deletable.
    deletable: deletable && !backup.isProtected,
    hostname,
    unreadableFiles: backup.unreadableFiles,
    isProtected: backup.isProtected,
  };
}
