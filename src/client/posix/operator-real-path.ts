// The real folder of a path the operator named (a restore target, an include's folder): the symlinks on
// the way are followed (theirs to choose), except one that someone else could have planted. Node's
// realpath resolves in user space, so even the kernel's fs.protected_symlinks (which refuses such a
// symlink as the last component of a path it opens) never applied to it. The walk holds each folder and
// each symlink by an fd while it judges and reads it: walked by path, a user swapping a folder of theirs
// (renameat2 RENAME_EXCHANGE) had one symlink judged and another one read.
import { closeSync } from 'node:fs';
import { join } from 'node:path';
import { openAt, posixConstants, readlinkAt, statFd, type PosixStat } from './at';
import { escapeBytes } from '../../common/escape-bytes';

/** As the kernel's path walk (MAXSYMLINKS): more symlinks than this on one path is a loop. */
const MAX_SYMLINKS = 40;
/** Linux's PATH_MAX: a longer real path is ENAMETOOLONG, as realpath says. */
const PATH_MAX = 4096;
const S_ISVTX = 0o1000;
const S_IWGRP = 0o020;
const S_IWOTH = 0o002;

/**
 * Which symlinks are followed.
 * - `kernel`: the kernel's fs.protected_symlinks rule, at every depth: in a sticky folder anyone may
 *   write to (/tmp), only a symlink of this user's or of the folder's owner's. For reading (an include).
 * - `owned` (after OpenSSH's safe_path): only a symlink no one but this user and root could have put
 *   there: in a folder of theirs that no one else may create entries in (or a sticky one, for a symlink
 *   of theirs), and not below a folder whose entries someone else may replace. For writing as root (a
 *   restore target): a user's folder in /tmp holding `out -> /etc` is theirs to plant, sticky or not.
 */
export type SymlinkRule = 'kernel' | 'owned';

/** A symlink on the way that someone else may have planted: not followed. */
export class PlantableSymlinkError extends Error {
  readonly code = 'PLANTABLE_SYMLINK';
  constructor(readonly symlinkPath: string, readonly owner: number, why: string) {
    super(`"${symlinkPath}" is a symlink of uid ${owner}, and ${why}: not followed (someone else could have planted it)`);
  }
}

/** Something on the way, or at the end, that is not a folder (ENOTDIR); `path` is where it really is. */
export class NotAFolderOnWayError extends Error {
  readonly code = 'ENOTDIR';
  constructor(readonly path: string) {
    super(`ENOTDIR: "${path}" is not a folder`);
  }
}

export interface ResolvedFolder {
  /** Its real path: no symlink, no "." or "..". */
  readonly path: string;
  /** The folder, held as an O_PATH handle (the caller closes it). */
  readonly fd: number;
  /** The first folder on the way whose entries someone other than this user or root may replace, if any. */
  readonly replaceableAt: string | undefined;
}

/** A folder the walk holds: "..", as realpath does with the text, goes back to the one held before it. */
interface HeldFolder {
  readonly fd: number;
  readonly path: string;
  readonly stats: PosixStat;
  /** `owned`: the first folder on the way to this one whose entries someone else could have replaced. */
  readonly replaceableAt: string | undefined;
}

/**
 * The real folder an absolute path leads to, as realpath resolves it. Throws the system's error of a
 * step (ENOENT for a dangling symlink), NotAFolderOnWayError, ELOOP past MAX_SYMLINKS, or PlantableSymlinkError.
 */
export function operatorRealFolder(absolute: string, rule: SymlinkRule): ResolvedFolder {
  const { S_IFMT, S_IFLNK, S_IFDIR } = posixConstants();
  const pending = absolute.split('/').filter((name) => name.length > 0);
  // Every folder on the way stays held: ".." is the one before, never the parent of a folder someone
  // may have moved meanwhile (then the fd and the path would name two folders).
  const held: HeldFolder[] = [heldRoot()];
  let symlinks = 0;
  let lastLink: FollowedLink | undefined;
  try {
    while (pending.length > 0) {
      const name = pending.shift()!;
      const current = held[held.length - 1];
      if (name === '.') continue;
      if (name === '..') {
        if (held.length > 1) closeSync(held.pop()!.fd);
        continue;
      }
      const path = join(current.path, name);
      // As the kernel (PATH_MAX), and a bound on the folders held.
      if (Buffer.byteLength(path) >= PATH_MAX) throw systemError('ENAMETOOLONG', `the path on the way to ${absolute} grows past ${PATH_MAX} bytes`);
      // The entry itself (a symlink is opened, not followed): what is judged is what is read or entered.
      const entryFd = openedOnTheWay(current.fd, name, path, lastLink);
      let isHeld = false;
      try {
        const entry = statFd(entryFd);
        const type = entry.mode & S_IFMT;
        if (type === S_IFDIR) {
          const replaceableAt = current.replaceableAt ?? (canReplace(current.stats, entry) ? current.path : undefined);
          held.push({ fd: entryFd, path, stats: entry, replaceableAt });
          isHeld = true;
          continue;
        }
        if (type !== S_IFLNK) throw new NotAFolderOnWayError(path);
        if (++symlinks > MAX_SYMLINKS) throw systemError('ELOOP', `more than ${MAX_SYMLINKS} symlinks on the way to ${absolute} (a loop?)`);
        const refusal = rule === 'kernel' ? kernelRefusal(current.stats, entry) : ownedRefusal(current.path, current.stats, current.replaceableAt, entry);
        if (refusal !== undefined) throw new PlantableSymlinkError(path, entry.uid, refusal);
        const target = textOfTarget(path, readlinkAt(entryFd, ''));
        lastLink = { path, target };
        // (A trailing slash asks for a folder: every entry the walk ends on must be one anyway.)
        pending.unshift(...target.split('/').filter((part) => part.length > 0));
        if (target.startsWith('/')) {
          // Chosen by a symlink no one else could have put there: its target's folders are judged afresh.
          for (const folder of held.splice(0, held.length, heldRoot())) closeSync(folder.fd);
        }
      } finally {
        if (!isHeld) closeSync(entryFd);
      }
    }
    const last = held.pop()!;
    return { path: last.path, fd: last.fd, replaceableAt: last.replaceableAt };
  } finally {
    for (const folder of held) closeSync(folder.fd);
  }
}

interface FollowedLink {
  readonly path: string;
  readonly target: string;
}

/** The entry opened without following; missing past a symlink, the error names the link (a dangling one said only ENOENT of its target's last name). */
function openedOnTheWay(folderFd: number, name: string, path: string, lastLink: FollowedLink | undefined): number {
  try {
    return openAt(folderFd, name, posixConstants().O_PATH | posixConstants().O_NOFOLLOW);
  } catch (error) {
    if (lastLink === undefined || (error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    throw systemError('ENOENT', `"${path}" does not exist (reached through the symlink "${lastLink.path}" -> "${lastLink.target}")`);
  }
}

function heldRoot(): HeldFolder {
  const { AT_FDCWD, O_PATH, O_DIRECTORY } = posixConstants();
  const fd = openAt(AT_FDCWD, '/', O_PATH | O_DIRECTORY);
  try {
    return { fd, path: '/', stats: statFd(fd), replaceableAt: undefined };
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

/** The real path only (the folder's handle closed): where the caller opens it again itself, without following. */
export function operatorRealPath(absolute: string, rule: SymlinkRule): string {
  const resolved = operatorRealFolder(absolute, rule);
  closeSync(resolved.fd);
  return resolved.path;
}

/** Why the kernel would not follow this symlink in that folder, or undefined. */
function kernelRefusal(folder: PosixStat, symlink: PosixStat): string | undefined {
  const isShared = (folder.mode & S_ISVTX) !== 0 && (folder.mode & S_IWOTH) !== 0;
  if (!isShared || symlink.uid === process.geteuid?.() || symlink.uid === folder.uid) return undefined;
  return 'it sits in a sticky folder anyone may write to and belongs neither to this user nor to the folder\'s owner '
    + '(the kernel\'s fs.protected_symlinks rule)';
}

/**
 * Why this symlink is not followed under `owned`, or undefined: someone other than this user and root
 * could have put it there (a root-owned symlink included: one in a user's folder may have been renamed to
 * the name typed).
 */
function ownedRefusal(folderPath: string, folder: PosixStat, replaceableAt: string | undefined, symlink: PosixStat): string | undefined {
  if (replaceableAt !== undefined) return `it lies below "${replaceableAt}", where someone other than this user or root may replace folders`;
  if (!isTrusted(folder.uid)) return `it sits in "${folderPath}", a folder of uid ${folder.uid}`;
  if ((folder.mode & (S_IWGRP | S_IWOTH)) === 0) return undefined;
  // A sticky folder (/tmp): others may add entries but not replace this user's or root's.
  if ((folder.mode & S_ISVTX) !== 0 && isTrusted(symlink.uid)) return undefined;
  return `it sits in "${folderPath}", where someone other than this user or root may create entries`;
}

/** Whether someone other than this user and root may replace `child` in `folder` (rename it away, put another there). */
function canReplace(folder: PosixStat, child: PosixStat): boolean {
  if (!isTrusted(folder.uid)) return true;
  if ((folder.mode & (S_IWGRP | S_IWOTH)) === 0) return false;
  // Sticky: only the child's owner (and the folder's) may rename it.
  return (folder.mode & S_ISVTX) === 0 || !isTrusted(child.uid);
}

function isTrusted(uid: number): boolean {
  return uid === 0 || uid === process.geteuid?.();
}

/**
 * A symlink's target as text, refused when its bytes are not UTF-8: read as a string they would become
 * another name (U+FFFD), one a user may have made in a folder anyone may write to.
 */
export function textOfTarget(symlinkPath: string, target: Buffer): string {
  const text = target.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(target)) {
    throw systemError('EILSEQ', `the symlink "${symlinkPath}" points to "${escapeBytes(target)}", which is not UTF-8: not followed; name the real folder instead`);
  }
  return text;
}

export function systemError(code: string, text: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${text}`), { code });
}
