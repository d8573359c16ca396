// Which dumps of a partial backup are partial, as recorded when they were dumped: a source without
// dump_partial (or since_field) is dumped whole even then, and the node that loads the backup (a
// receiver, or this node after its storage.conf changed) may configure the source otherwise. A
// partial dump loaded by a whole dump's loader (pg_restore --clean, mongorestore --drop) would
// replace the data with only its recent rows.
import type { BackupSummary } from '../../proto/cpsbackup';
import { BackupKind } from '../../proto/cpsbackup';

/** The sources a partial backup dumped partially, comma-separated (source names hold no comma); none: empty. */
export const PARTIAL_SOURCES_LABEL = 'dumps.partial_sources';
/** The backup a partial backup continues: its dumps hold the changes since that one's dumps began. */
export const PARTIAL_OF_LABEL = 'dumps.partial_of';

/** followsBackupId: 0 when not known (a partial since given as a plain time). */
export function partialLabels(partialSourceNames: readonly string[], followsBackupId: number): Record<string, string> {
  return { [PARTIAL_SOURCES_LABEL]: partialSourceNames.join(','), ...(followsBackupId > 0 ? { [PARTIAL_OF_LABEL]: String(followsBackupId) } : {}) };
}

/** The backup a partial backup continues, as recorded; undefined for a complete one or one made before the label. */
export function partialOf(backup: BackupSummary): number | undefined {
  const recorded = Number(backup.labels[PARTIAL_OF_LABEL]);
  return backup.kind === BackupKind.BACKUP_KIND_PARTIAL && Number.isSafeInteger(recorded) && recorded > 0 ? recorded : undefined;
}

/**
 * Which of the backup's dumps are partial: the set of source names it recorded, or, for a partial
 * backup made before the label, true (each source as the loading node's storage.conf says).
 */
export function partialDumpsOf(backup: BackupSummary): boolean | ReadonlySet<string> {
  if (backup.kind !== BackupKind.BACKUP_KIND_PARTIAL) return false;
  const recorded = backup.labels[PARTIAL_SOURCES_LABEL];
  if (recorded === undefined) return true;
  return new Set(recorded.split(',').filter((name) => name !== ''));
}
