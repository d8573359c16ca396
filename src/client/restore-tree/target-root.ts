// Resolves the restore target once: every spelling of one folder (DIR, DIR/, DIR/., x/../DIR, ./DIR/)
// becomes the same canonical path, created if missing, and is held open as the fd all work is relative to.
import { mkdir, realpath } from 'node:fs/promises';
import { basename, dirname, relative, resolve, sep } from 'node:path';
import { closeSync, existsSync } from 'node:fs';
import { openFolderHandleAt, openRealPath, posixConstants, readlinkAt, statAtIfExists, unlinkAt } from '../posix/at';
import { SymlinkInPathError, NotAFolderError, RestoreSystemError } from './errors';

export interface TargetRoot {
  /** Canonical absolute path: no symlink, no "." or "..", no trailing "/" (except "/" itself). */
  readonly path: string;
  /** The root folder, held open as an O_PATH handle (no read permission needed); every entry is reached from it. */
  readonly fd: number;
  /** The folders this call made, the target first and the topmost last (canonical paths): none when it was there. */
  readonly madeFolders: readonly string[];
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
  const made = await makeTarget(absolute);
  const canonical = await realpath(absolute);
  // The same folders under the canonical path: the names made are its last ones (a symlink of the
  // operator's above them is resolved away, and their removal walks without following any).
  const madeCount = made === undefined ? 0 : relative(made, absolute).split(sep).filter((name) => name.length > 0).length + 1;
  const madeFolders: string[] = [];
  for (let folder = canonical; madeFolders.length < madeCount; folder = dirname(folder)) madeFolders.push(folder);
  return { path: canonical, fd: openCanonical(canonical), madeFolders };
}

/**
 * Removes the folders a target's making made (RestoreTree.madeFolders), the deepest first, each only
 * while empty, each from its parent opened from "/" without following a symlink: one swapped in for a
 * folder on the way is never followed into a folder this restore did not make. Stops at the first that
 * cannot go (not empty, gone, replaced).
 */
export function removeMadeFolders(madeFolders: readonly string[]): void {
  for (const folder of madeFolders) {
    try {
      const parentFd = openRealPath(dirname(folder));
      try {
        unlinkAt(parentFd, basename(folder), { removeFolder: true });
      } finally {
        closeSync(parentFd);
      }
    } catch {
      return;
    }
  }
}

/**
 * The target made with the folders above it, or undefined when it was there. Node's recursive mkdir
 * says ENOENT when the folder above is read-only (the restore said "no such file or directory" of a
 * target on a read-only mount), and EEXIST of a file in the way: a single mkdir tells the real cause.
 */
async function makeTarget(absolute: string): Promise<string | undefined> {
  try {
    return await mkdir(absolute, { recursive: true, mode: 0o700 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // EEXIST: something is at the target itself; ENOTDIR (a file above it) keeps the system's words, which name that file.
    if (code === 'EEXIST') throw new NotAFolderError(Buffer.from('/'), absolute);
    throw new RestoreSystemError(Buffer.from('/'), absolute, 'create the restore target', code === 'ENOENT' ? await singleMkdirCause(absolute) ?? error : error);
  }
}

/** What a plain mkdir of the topmost missing folder on the way says (EROFS, EACCES), or undefined. */
async function singleMkdirCause(absolute: string): Promise<unknown> {
  let missing = absolute;
  while (dirname(missing) !== missing && !existsSync(dirname(missing))) missing = dirname(missing);
  try {
    await mkdir(missing, { mode: 0o700 });
    return undefined;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? undefined : error;
  }
}

/** The target, opened from "/" without following (openRealPath): a symlink found now was swapped in after realpath. */
function openCanonical(canonical: string): number {
  return openRealPath(canonical, openFolderHandleAt, (parent, component, walked, error) => {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ELOOP' && code !== 'ENOTDIR') return new RestoreSystemError(Buffer.from('/'), walked, 'open the restore target', error);
    const stats = statAtIfExists(parent, component);
    if (stats !== undefined && (stats.mode & posixConstants().S_IFMT) === posixConstants().S_IFLNK) {
      return new SymlinkInPathError(Buffer.from('/'), walked, readlinkAt(parent, component));
    }
    return new NotAFolderError(Buffer.from('/'), walked);
  });
}
