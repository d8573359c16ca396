// One backup as the status port and notifications show it: times, sizes, kind, warnings.
// Kept apart from the status report so notifications use it without depending on the status port.
import type { BackupRecord } from '../../chunkstore/store';
import { BackupKind } from '../../proto/cpsbackup';
import { shown } from '../../common/config/display';
import { WARNING_LENGTH } from '../received-text';

export interface BackupFigures {
  readonly id: number;
  readonly kind: 'complete' | 'partial';
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly ageSeconds: number;
  readonly durationSeconds: number;
  readonly files: number;
  readonly bytes: number;
  readonly newBytes: number;
  readonly storedBytes: number;
  /** The client's warnings (file paths among them): empty without details (status-details.ts); warningCount always counts them. */
  readonly warnings: readonly string[];
  readonly warningCount: number;
  /**
   * Entries the client could not read (vanished, denied, I/O error): above 0 the backup is kept but
   * incomplete. Always set here; absent from an older server's /status.
   */
  readonly unreadableFiles?: number;
}

export function backupFigures(backup: BackupRecord, now: number): BackupFigures {
  const finishedAt = backup.finishedAt ?? backup.startedAt;
  // Each shown again: a backup kept before warnings were made one line each on arrival may hold controls.
  const warnings = backup.labels.warnings ? backup.labels.warnings.split('\n').map((warning) => shown(warning, WARNING_LENGTH)) : [];
  return {
    id: backup.number,
    kind: kindName(backup.kind),
    startedAt: new Date(backup.startedAt).toISOString(),
    finishedAt: new Date(finishedAt).toISOString(),
    ageSeconds: Math.round((now - finishedAt) / 1000),
    durationSeconds: (finishedAt - backup.startedAt) / 1000,
    files: backup.files,
    bytes: backup.logicalBytes,
    newBytes: backup.newBytes,
    storedBytes: backup.storedBytes,
    warnings,
    warningCount: warnings.length,
    unreadableFiles: backup.unreadableFiles,
  };
}

export function kindName(kind: number): 'complete' | 'partial' {
  return kind === BackupKind.BACKUP_KIND_PARTIAL ? 'partial' : 'complete';
}
