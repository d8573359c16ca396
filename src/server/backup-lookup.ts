// Finds a committed backup of a client by number (0: the newest), or says clearly that it does not exist.
import type { BackupRecord, ChunkStore } from '../chunkstore/store';
import { NotFoundError } from '../common/errors';
import { BackupKind } from '../proto/cpsbackup';

export function committedBackup(store: ChunkStore, clientName: string, number: number): BackupRecord {
  const backup = store.findBackup(clientName, number);
  if (backup === undefined) {
    throw new NotFoundError(number === 0 ? `client "${clientName}" has no backup yet` : `client "${clientName}" has no backup ${number}`);
  }
  return backup;
}

/**
 * What `-d` takes without --force: not the newest backup (it keeps the client restorable), nor one that partial
 * backups stand on (the next backup is a partial: deleting it would take that chain with it). `backups` are the
 * client's, oldest first. A protected backup is left out by the summary (backup-summary.ts).
 */
export function isDeletableAmong(backups: readonly BackupRecord[], index: number): boolean {
  return index < backups.length - 1 && backups[index + 1].kind !== BackupKind.BACKUP_KIND_PARTIAL;
}

export function isDeletable(store: ChunkStore, backup: BackupRecord): boolean {
  const backups = store.listBackups(backup.clientName);
  return isDeletableAmong(backups, backups.findIndex((candidate) => candidate.id === backup.id));
}
