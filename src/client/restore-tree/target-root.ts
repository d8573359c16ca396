// Resolves the restore target once: every spelling of one folder (DIR, DIR/, DIR/., x/../DIR, ./DIR/)
// becomes the same canonical path, created if missing, and is held open as the fd all work is relative to.
import { mkdir, realpath } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import { closeSync } from 'node:fs';
import { openFolderHandleAt, posixConstants, readlinkAt, statAtIfExists } from '../posix/at';
import { SymlinkInPathError, NotAFolderError, RestoreSystemError } from './errors';

export interface TargetRoot {
  /** Canonical absolute path: no symlink, no "." or "..", no trailing "/" (except "/" itself). */
  readonly path: string;
  /** The root folder, held open as an O_PATH handle (no read permission needed); every entry is reached from it. */
  readonly fd: number;
  /** Created by this call: it did not exist. */
  readonly isMade: boolean;
}

/**
 * "/" restores to the original paths. Any other spelling is made absolute and normalised lexically
 * (as path.resolve does: "x/../DIR" is DIR beside x, whatever x is), created if missing, then realpath'd:
 * symlinks the operator named above or at the target are theirs to choose. The canonical path is then
 * opened from "/" component by component without following: a symlink found now was swapped in after
 * realpath, and the restore is refused rather than steered.
 */
export async function openTargetRoot(spelled: string): Promise<TargetRoot> {
  if (spelled.length === 0) {
    throw new RestoreSystemError(Buffer.from('/'), '', 'restore to', new Error('the restore target is an empty path'));
  }
  const absolute = resolve(spelled);
  let made: string | undefined;
  try {
    made = await mkdir(absolute, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new RestoreSystemError(Buffer.from('/'), absolute, 'create the restore target', error);
  }
  const canonical = await realpath(absolute);
  return { path: canonical, fd: openCanonical(canonical), isMade: made !== undefined };
}

function openCanonical(canonical: string): number {
  const components = canonical.split(sep).filter((component) => component.length > 0);
  let fd = openFolderHandleAt(posixConstants().AT_FDCWD, '/');
  let walked = '';
  try {
    for (const component of components) {
      const parent = fd;
      walked += `/${component}`;
      try {
        fd = openFolderHandleAt(parent, component);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'ELOOP' && code !== 'ENOTDIR') throw new RestoreSystemError(Buffer.from('/'), walked, 'open the restore target', error);
        const stats = statAtIfExists(parent, component);
        if (stats !== undefined && (stats.mode & posixConstants().S_IFMT) === posixConstants().S_IFLNK) {
          throw new SymlinkInPathError(Buffer.from('/'), walked, readlinkAt(parent, component));
        }
        throw new NotAFolderError(Buffer.from('/'), walked);
      } finally {
        if (fd !== parent) closeSync(parent);
      }
    }
    return fd;
  } catch (error) {
    // fd is the last folder opened: the parent that failed, or the target when a later step failed.
    closeSync(fd);
    throw error;
  }
}
