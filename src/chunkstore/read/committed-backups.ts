// A store's clients and committed backups read from its catalog without taking the store: beside the
// running server that owns it (its process lock), for a retention dry run. Nothing is recovered or
// deleted, and catalog.db and its log are not changed: SQLite opens them read-only (it may leave an empty
// -wal and its -shm index beside them, as any reader of a WAL database does). Each call reads what the server had committed
// then: one client's backups are consistent, two clients' may be a commit apart, which a preview allows.
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { BackupError, CorruptError, errorMessage } from '../../common/errors';
import { assertStoreExists } from '../store-presence';
import { Catalog } from '../catalog/catalog';
import type { BackupRecord } from '../catalog/records';

export class CommittedBackups {
  private constructor(private readonly catalog: Catalog) {}

  /** The catalog of the store in `directory` (server.conf's `directory`), which must exist; `storage` names where its packs are. */
  static open(directory: string, storage: 'local' | 's3'): CommittedBackups {
    // A mistyped directory would otherwise read as a store with nothing to remove.
    assertStoreExists(directory, storage);
    const file = join(directory, 'catalog.db');
    try {
      // Opened, not access(2)'d: that one answers for the real user, SQLite opens as the effective one.
      closeSync(openSync(file, 'r'));
    } catch (error) {
      throw new BackupError('IO', `cannot read ${file} (${errorMessage(error)}): run this as the store's owner`, { cause: error });
    }
    try {
      return new CommittedBackups(new Catalog(file, undefined, undefined, { isReadOnly: true }));
    } catch (error) {
      if (error instanceof CorruptError) throw error;
      // SQLite's own words name no file ("file is not a database", "unable to open database file").
      const code = String((error as { code?: unknown }).code ?? '');
      if (/^SQLITE_(CANTOPEN|READONLY|PERM)/.test(code)) {
        throw new BackupError('IO', `${file}: cannot be opened for reading (${errorMessage(error)}): SQLite reads a catalog in WAL mode `
          + `only with write access to ${directory} for its catalog.db-shm and -wal; run this as the store's owner`, { cause: error });
      }
      throw new CorruptError(`${file}: cannot be read as a catalog (${errorMessage(error)})`);
    }
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
