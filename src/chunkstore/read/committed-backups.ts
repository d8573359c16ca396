// A store's clients and committed backups read from its catalog without taking the store: beside the
// running server that owns it (its process lock), for a retention dry run. Nothing is recovered,
// written or deleted; the catalog is read as of one moment, as the server last committed it.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { NotFoundError } from '../../common/errors';
import { Catalog } from '../catalog/catalog';
import type { BackupRecord } from '../catalog/records';

export class CommittedBackups {
  private constructor(private readonly catalog: Catalog) {}

  /** The catalog of the store in `directory` (server.conf's `directory`), which must exist. */
  static open(directory: string): CommittedBackups {
    const file = join(directory, 'catalog.db');
    // A mistyped directory would otherwise read as a store with nothing to remove.
    if (!existsSync(file)) throw new NotFoundError(`no store in ${directory} (no catalog.db there): nothing to decide`);
    return new CommittedBackups(new Catalog(file, undefined, undefined, true));
  }

  knownClients(): string[] {
    return this.catalog.clients.allNames();
  }

  listBackups(clientName: string): BackupRecord[] {
    const clientId = this.catalog.clients.find(clientName);
    return clientId === undefined ? [] : this.catalog.backups.committed(clientId);
  }

  close(): void {
    this.catalog.close();
  }
}
