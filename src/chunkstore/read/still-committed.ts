// Whether a backup being read is still the committed backup it was when the read began. Its entries are read a
// page at a time, and a backup deleted between two pages (`-d`, retention after another commit) reads as one
// that ends there: a listing, a parent index or a restore that stops short with nothing said.
import type { Catalog } from '../catalog/catalog';
import type { BackupRecord } from '../catalog/records';
import { NotFoundError } from '../../common/errors';

/** Throws NotFoundError naming the backup unless its row is still the same committed backup; call it in the turn of each page's query. */
export function assertStillCommitted(catalog: Catalog, backup: BackupRecord): void {
  const current = catalog.backups.byId(backup.id);
  if (current?.state !== 'committed' || current.clientId !== backup.clientId || current.number !== backup.number) {
    throw new NotFoundError(`backup ${backup.number} of client "${backup.clientName}" was deleted while it was being read`);
  }
}
