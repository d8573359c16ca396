// Whether a folder holds a store: its catalog.db is there (for a bucket store too: the catalog is local,
// and an existing catalog's bucket must hold the same store's identity, which opening checks).
// Every command but the server's first start and `recover` needs one, and must not make one.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { BackupError, NotFoundError, errorMessage } from '../common/errors';

/** catalog.db in `directory`; throws "no store in DIR" when it is absent (a mistyped `directory`, a disk not mounted). */
export function assertStoreExists(directory: string, storage: 'local' | 's3'): void {
  const file = join(directory, 'catalog.db');
  try {
    statSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new NotFoundError(`no store in ${directory} (no catalog.db there)`
        + (storage === 's3' ? ': a bucket\'s catalog is rebuilt here by `cpsbackup-server recover`'
          : ': is its disk mounted, is server.conf\'s directory right? Only the server makes a store, at its first start'));
    }
    throw new BackupError('IO', `cannot look for ${file} (${errorMessage(error)}): run this as the store's owner`, { cause: error });
  }
}

/** Whether `directory` holds no catalog.db yet: opening it makes a new, empty store. */
export function isStoreMissing(directory: string): boolean {
  try {
    statSync(join(directory, 'catalog.db'));
    return false;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR';
  }
}
