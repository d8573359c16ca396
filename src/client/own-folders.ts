// The folders of the work directory that hold the client's own files while it runs: dump FIFOs,
// database credentials, backups received for loading, databases a loader builds. No backup walks them (a dump's FIFO read twice
// would lose data; credentials must not be stored). Anything else kept in the work directory is backed
// up like any other file: the whole work directory was skipped, so an include naming it, or a folder
// holding it, lost every file an operator had put there, with exit 0.
import { realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DUMPS_FOLDER } from './sources/dump-names';

export const CREDENTIALS_FOLDER = 'credentials';
export const RECEIVE_FOLDER = 'receive';
/** Loaders' private staging folders (a SQLite database while sqlite3 builds it). */
export const LOADS_FOLDER = 'loads';
/** The lock of the runs that use the work directory (backup-lock.ts). */
export const LOCKS_FOLDER = 'locks';

/** The own folders' absolute paths, as configured and as really reached (a work directory behind a symlink). */
export function ownFolders(workDirectory: string): Set<string> {
  const spellings = new Set([resolve(workDirectory)]);
  try {
    spellings.add(realpathSync(workDirectory));
  } catch {
    // Not made yet: none of the client's files is in it.
  }
  const folders = new Set<string>();
  for (const work of spellings) {
    for (const name of [DUMPS_FOLDER, CREDENTIALS_FOLDER, RECEIVE_FOLDER, LOADS_FOLDER, LOCKS_FOLDER]) folders.add(join(work, name));
  }
  return folders;
}

/** The own folder that is `path` or holds it, or undefined. */
export function ownFolderHolding(path: string, folders: ReadonlySet<string>): string | undefined {
  for (let end = path.length; end > 0; end = path.lastIndexOf('/', end - 1)) {
    const candidate = path.slice(0, end);
    if (folders.has(candidate)) return candidate;
  }
  return undefined;
}
