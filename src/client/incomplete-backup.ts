// What every restore of an incomplete backup says (files unreadable when it was made, or removed by
// check --repair): it brings back all it holds, not all that was there, so no command may exit 0 on it.
import { formatBackupId } from '../common/backup-id';
import type { BackupSummary } from '../proto/cpsbackup';

/** The warning for a backup with unreadable files, without a "warning: " prefix; undefined for a whole backup. */
export function incompleteBackupWarning(backup: BackupSummary): string | undefined {
  if (backup.unreadableFiles === 0) return undefined;
  const files = backup.unreadableFiles === 1 ? '1 file was' : `${backup.unreadableFiles} files were`;
  return `backup ${formatBackupId(backup.backupId)} is incomplete: ${files} not saved in it `
    + '(unreadable when it was made, or removed by check --repair); no restore of it can bring them back';
}
