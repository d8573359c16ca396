// A partial backup holds only the changes on top of the backups before it, back to the newest complete one:
// its chain. A chain link deleted while the partial runs (`-d --force` on its base) leaves it unloadable.
import type { Catalog } from '../catalog/catalog';
import type { BackupRecord } from '../catalog/records';
import { NotFoundError } from '../../common/errors';

/** BackupKind.BACKUP_KIND_COMPLETE on the wire; every other kind stands on the backups before it. */
const COMPLETE_KIND = 0;

/** A partial backup's commit is refused: a backup of its chain was deleted while it ran. */
export class BrokenChainError extends NotFoundError {
  constructor(readonly backup: BackupRecord, readonly deleted: readonly BackupRecord[]) {
    super(`backup ${deleted.map((link) => link.number).join(', ')} of client "${backup.clientName}", which the partial backup `
      + `${backup.number} stands on, was deleted while it ran; it is not committed (run a complete backup)`);
    this.name = 'BrokenChainError';
  }
}

/** The committed backups a new backup of this kind stands on, oldest first: none for a complete one. */
export function chainOf(kind: number, committed: readonly BackupRecord[]): readonly BackupRecord[] {
  if (kind === COMPLETE_KIND) return [];
  let start = committed.length;
  while (start > 0 && committed[start - 1].kind !== COMPLETE_KIND) start--;
  return committed.slice(Math.max(0, start - 1));
}

/** Throws BrokenChainError if a backup of the chain is no longer committed; run just before the commit, with no await between. */
export function assertChainStands(catalog: Catalog, backup: BackupRecord, chain: readonly BackupRecord[]): void {
  const deleted = chain.filter((link) => catalog.backups.byId(link.id)?.state !== 'committed');
  if (deleted.length > 0) throw new BrokenChainError(backup, deleted);
}
