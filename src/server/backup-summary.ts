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

/** Bytes of the fixed fields (13 at most 11 bytes each, tag and value) and of the framing in a batch, rounded up. */
const SUMMARY_OVERHEAD = 160;
/** A label's framing: its map entry's tag and length, and the key's and value's, each length under 2^21. */
const LABEL_OVERHEAD = 12;

/** At least the bytes the summary takes encoded (never less): what batches are cut by, without encoding twice. */
export function summaryBytesBound(summary: BackupSummary): number {
  let bytes = SUMMARY_OVERHEAD + Buffer.byteLength(summary.hostname);
  for (const [key, value] of Object.entries(summary.labels)) bytes += Buffer.byteLength(key) + Buffer.byteLength(value) + LABEL_OVERHEAD;
  return bytes;
}
