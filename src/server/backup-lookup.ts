// Finds a committed backup of a client by number (0: the newest), or says clearly that it does not exist.
import type { Catalog } from '../chunkstore/catalog/catalog';
import type { BackupRecord } from '../chunkstore/catalog/records';
import { NotFoundError } from '../common/errors';

export function committedBackup(catalog: Catalog, clientName: string, number: number): BackupRecord {
  const clientId = catalog.findClientId(clientName);
  const backup = clientId === undefined ? undefined
    : number === 0 ? catalog.latestCommitted(clientId) : catalog.backupByNumber(clientId, number);
  if (backup === undefined || backup.state !== 'committed') {
    throw new NotFoundError(number === 0 ? `client "${clientName}" has no backup yet` : `client "${clientName}" has no backup ${number}`);
  }
  return backup;
}

/** The newest backup is what keeps a client restorable, so it is the one not marked deletable. */
export function isDeletable(catalog: Catalog, backup: BackupRecord): boolean {
  return catalog.latestCommitted(backup.clientId)?.id !== backup.id;
}
