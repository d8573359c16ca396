// Maps damage back to what a user cares about: which files of which backups no longer restore.
// A content is broken if any of its chunks is; every entry pointing at it, in any backup, is affected.
import type { Catalog } from '../catalog/catalog';
import type { AffectedBackup, AffectedFile } from './report';

export function affectedFiles(catalog: Catalog, damagedChunkIds: readonly number[], damagedContentIds: readonly number[]):
  { files: AffectedFile[]; backups: AffectedBackup[] } {
  if (damagedChunkIds.length === 0 && damagedContentIds.length === 0) return { files: [], backups: [] };
  const files = catalog.checks.affected(damagedChunkIds, damagedContentIds);
  const byBackup = new Map<string, AffectedBackup>();
  for (const file of files) {
    const key = `${file.clientName}\0${file.backupNumber}`;
    const previous = byBackup.get(key);
    byBackup.set(key, { clientName: file.clientName, backupNumber: file.backupNumber, damagedFiles: (previous?.damagedFiles ?? 0) + 1 });
  }
  return { files, backups: [...byBackup.values()] };
}
