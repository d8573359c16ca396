// Resolves the restore target once: every spelling of one folder (DIR, DIR/, DIR/., x/../DIR, ./DIR/)
// becomes the same canonical path, created if missing, and is held open as the fd all work is relative to.
import { lstat } from 'node:fs/promises';
import { basename, dirname, resolve, sep } from 'node:path';
import { closeSync } from 'node:fs';
import { mkdirAt, openFolderHandleAt, openRealPath, posixConstants, readlinkAt, statAt, statAtIfExists, statFd, unlinkAt, type PosixStat } from '../posix/at';
import { SymlinkInPathError, NotAFolderError, RestoreSystemError, UntrustedSymlinkError } from './errors';
import { NotAFolderOnWayError, operatorRealFolder, PlantableSymlinkError, type ResolvedFolder } from '../posix/operator-real-path';

export interface TargetRoot {
  /** Canonical absolute path: no symlink, no "." or "..", no trailing "/" (except "/" itself). */
  readonly path: string;
  /** The root folder, held open as an O_PATH handle (no read permission needed); every entry is reached from it. */
  readonly fd: number;
  /** The folders this call made, the target first and the topmost last: none when it was there. */
  readonly madeFolders: readonly MadeFolder[];
}

/** A folder the target's making made: its canonical path, and which folder it is (removed only while it is that one). */
export interface MadeFolder {
  readonly path: string;
  readonly dev: PosixStat['dev'];
  readonly ino: PosixStat['ino'];
}

/**
 * "/" restores to the original paths. Any other spelling is made absolute and normalised lexically
 * (as path.resolve does: "x/../DIR" is DIR beside x, whatever x is). The deepest part of it that is
 * there is resolved folder by folder, each held by an fd: symlinks the operator named on the way are
 * theirs to choose, but not one someone else may have planted (operator-real-path.ts, rule `owned`).
 * Each folder still missing is made in the folder held before it (mkdirat) and opened from it without
 * following: nothing is looked up by path twice, so no folder swapped meanwhile (for a symlink, or for
 * another folder) can steer the restore.
 */
export async function openTargetRoot(spelled: string): Promise<TargetRoot> {
  if (spelled.length === 0) {
    throw new RestoreSystemError(Buffer.from('/'), '', 'restore to', new Error('the restore target is an empty path'));
  }
  const absolute = resolve(spelled);
  const names = absolute.split(sep).filter((name) => name.length > 0);
  let thereCount = names.length;
  while (thereCount > 0 && !(await isThere(`/${names.slice(0, thereCount).join('/')}`))) thereCount--;
  const there = `/${names.slice(0, thereCount).join('/')}`;
  const resolved = resolvedTarget(there, absolute);
  let canonical = resolved.path;
  let fd = resolved.fd;
  const madeFolders: MadeFolder[] = [];
  try {
    for (const name of names.slice(thereCount)) {
      const isMade = makeFolderAt(fd, name, absolute);
      canonical = canonical === '/' ? `/${name}` : `${canonical}/${name}`;
      const next = openFolderBelow(fd, name, canonical, absolute);
      closeSync(fd);
      fd = next;
      if (isMade) {
        const made = statFd(fd);
        madeFolders.unshift({ path: canonical, dev: made.dev, ino: made.ino });
      }
    }
  } catch (error) {
    closeSync(fd);
    removeMadeFolders(madeFolders);
    throw error;
  }
  return { path: canonical, fd, madeFolders };
}

/**
 * Removes the folders a target's making made (RestoreTree.madeFolders), the deepest first, each only
 * while empty and while it is the folder that was made (someone who may write beside it could have put
 * an empty folder of theirs in its place), each from its parent opened from "/" without following a
 * symlink: one swapped in for a folder on the way is never followed into a folder this restore did not
 * make. Stops at the first that cannot go (not empty, gone, replaced).
 */
export function removeMadeFolders(madeFolders: readonly MadeFolder[]): void {
  for (const folder of madeFolders) {
    try {
      const parentFd = openRealPath(dirname(folder.path));
      try {
        const there = statAt(parentFd, basename(folder.path));
        if (there.dev !== folder.dev || there.ino !== folder.ino) return;
        unlinkAt(parentFd, basename(folder.path), { removeFolder: true });
      } finally {
        closeSync(parentFd);
      }
    } catch {
      return;
    }
  }
}

/** The real folder of the part of the target that is there, held (a dangling symlink on the way: ENOENT). */
function resolvedTarget(there: string, absolute: string): ResolvedFolder {
  try {
    return operatorRealFolder(there, 'owned');
  } catch (error) {
    if (error instanceof PlantableSymlinkError) throw new UntrustedSymlinkError(error);
    if (error instanceof NotAFolderOnWayError) throw new NotAFolderError(Buffer.from('/'), error.path, error.path === there ? undefined : there, absolute);
    throw new RestoreSystemError(Buffer.from('/'), absolute, 'resolve the restore target', error);
  }
}

/** Whether something (a dangling symlink too) has this absolute path. */
async function isThere(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return false;
    // ENOTDIR: a file above it; the folder walk below names that file as not a folder.
    if (code === 'ENOTDIR') return false;
    throw new RestoreSystemError(Buffer.from('/'), path, 'look at the restore target', error);
  }
}

/**
 * A missing folder of the target made in its parent (held open), with the system's own cause when it
 * cannot be (EROFS on a read-only mount, EACCES). False when something came there since it was looked
 * at: whatever it is, it is opened without following and is not this restore's to remove.
 */
function makeFolderAt(parentFd: number, name: string, absolute: string): boolean {
  try {
    mkdirAt(parentFd, name, 0o700);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new RestoreSystemError(Buffer.from('/'), absolute, 'create the restore target', error);
  }
}

/** A folder just made (or found) in its parent, opened without following: a symlink swapped in for it is refused. */
function openFolderBelow(parentFd: number, name: string, path: string, target: string): number {
  try {
    return openFolderHandleAt(parentFd, name);
  } catch (error) {
    throw explainedOpenError(parentFd, name, path, error, target);
  }
}

/** Why a folder of the target could not be opened without following: a symlink, not a folder, or the system's cause. */
function explainedOpenError(parentFd: number, component: string | Buffer, walked: string, error: unknown, target: string): Error {
  const code = (error as NodeJS.ErrnoException).code;
  if (code !== 'ELOOP' && code !== 'ENOTDIR') return new RestoreSystemError(Buffer.from('/'), walked, 'open the restore target', error);
  const stats = statAtIfExists(parentFd, component);
  if (stats !== undefined && (stats.mode & posixConstants().S_IFMT) === posixConstants().S_IFLNK) {
    return new SymlinkInPathError(Buffer.from('/'), walked, readlinkAt(parentFd, component), target);
  }
  return new NotAFolderError(Buffer.from('/'), walked, undefined, target);
}
