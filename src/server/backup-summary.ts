// Builds the wire's BackupSummary from a catalog record.
import type { BackupRecord } from '../chunkstore/store';
import type { BackupSummary } from '../proto/cpsbackup';

export function backupSummaryOf(backup: BackupRecord, deletable: boolean): BackupSummary {
  return {
    backupId: backup.number,
    startedAtMs: backup.startedAt,
    finishedAtMs: backup.finishedAt ?? 0,
    files: backup.files,
    logicalBytes: backup.logicalBytes,
    newBytes: backup.newBytes,
    storedBytes: backup.storedBytes,
    kind: backup.kind,
    labels: { ...backup.labels },
    // A protected backup is refused by Delete, so it is never offered as deletable.
    deletable: deletable && !backup.isProtected,
    hostname: backup.hostname,
    unreadableFiles: backup.unreadableFiles,
    isProtected: backup.isProtected,
  };
}
