// Finds a committed backup of a client by number (0: the newest), or says clearly that it does not exist.
import type { BackupRecord, ChunkStore } from '../chunkstore/store';
import { NotFoundError } from '../common/errors';

export function committedBackup(store: ChunkStore, clientName: string, number: number): BackupRecord {
  const backup = store.findBackup(clientName, number);
  if (backup === undefined) {
    throw new NotFoundError(number === 0 ? `client "${clientName}" has no backup yet` : `client "${clientName}" has no backup ${number}`);
  }
  return backup;
}

/** The newest backup is what keeps a client restorable, so it is the one not marked deletable. */
export function isDeletable(store: ChunkStore, backup: BackupRecord): boolean {
  return store.findBackup(backup.clientName, 0)?.id !== backup.id;
}
