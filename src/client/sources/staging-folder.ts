// A private folder for a loader's work files in a place where no one but root (this user) may rename or
// replace anything on its path: a tool handed a path string there (sqlite3) reaches what we made, always.
import { randomBytes } from 'node:crypto';
import { closeSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { LoadFailedError } from '../../common/errors';
import { mkdirAt, openFolderHandleAt } from '../posix/at';
import { openTrustedFolder, UntrustedFolderError } from './trusted-folder';

export interface StagingFolder {
  /** Its real path: no symlink on it, and no folder on it that someone other than root (this user) may replace. */
  readonly path: string;
  /** The folder, held (O_PATH) for *at calls until remove(). */
  readonly fd: number;
  /** Deletes the folder and what it holds. */
  remove(): Promise<void>;
}

/**
 * Makes `cpsbackup-load-<random>` (0700) in `parent` (created 0700 when missing). Refused when someone other
 * than root (this user) could replace it or a folder above it: a user who can rename the folder away and put
 * a symlink at its name would have the tool write wherever the symlink points.
 */
export async function makeStagingFolder(sourceName: string, parent: string): Promise<StagingFolder> {
  await mkdir(parent, { recursive: true, mode: 0o700 });
  let resolved;
  try {
    resolved = openTrustedFolder(parent, { allowsSticky: true });
  } catch (error) {
    if (!(error instanceof UntrustedFolderError)) throw error;
    throw new LoadFailedError(sourceName, `${error.message}: not a private place for the load's work files`);
  }
  try {
    const name = `cpsbackup-load-${randomBytes(8).toString('hex')}`;
    mkdirAt(resolved.fd, name, 0o700);
    const fd = openFolderHandleAt(resolved.fd, name);
    const path = join(resolved.path, name);
    return {
      path,
      fd,
      remove: async () => {
        closeSync(fd);
        await rm(path, { recursive: true, force: true });
      },
    };
  } finally {
    closeSync(resolved.fd);
  }
}
