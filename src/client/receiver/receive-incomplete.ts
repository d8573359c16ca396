// Which backups leave this replica short of files after a receive: those it just applied that are
// incomplete, or, when nothing was new, the last one applied, until a newer backup replaces it.
import type { BackupSummary } from '../../proto/cpsbackup';
import type { ReceiveResult } from './receiver';

/**
 * An incomplete backup is still recorded as applied (re-applying it brings nothing back), but every
 * run that leaves it the newest one applied says so: a quiet "nothing new" would read as all is there.
 */
export function incompleteBackupsOf(result: ReceiveResult): BackupSummary[] {
  const current = result.applied.length > 0 ? result.applied.map(({ backup }) => backup) : [result.lastApplied];
  return current.filter((backup): backup is BackupSummary => backup !== undefined && backup.unreadableFiles > 0);
}
