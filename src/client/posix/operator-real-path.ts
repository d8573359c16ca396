// The real path of a path the operator named (a restore target, an include's folder): the symlinks on
// the way are followed (theirs to choose), except one that someone else could have planted. Node's
// realpath resolves in user space, so even the kernel's fs.protected_symlinks (which refuses such a
// symlink as the last component of a path it opens) never applied to it.
import { lstatSync, readlinkSync, type Stats } from 'node:fs';
import { join } from 'node:path';

/** As the kernel's path walk (MAXSYMLINKS): more symlinks than this on one path is a loop. */
const MAX_SYMLINKS = 40;
const S_ISVTX = 0o1000;
const S_IWGRP = 0o020;
const S_IWOTH = 0o002;

/**
 * Which symlinks are followed.
 * - `kernel`: the kernel's fs.protected_symlinks rule, at every depth: in a sticky folder anyone may
 *   write to (/tmp), only a symlink of this user's or of the folder's owner's. For reading (an include).
 * - `owned` (after OpenSSH's safe_path): a symlink of someone other than this user and root is followed
 *   only where no one else could have made it: not in a folder others may create entries in (theirs, or
 *   writable by its group or by anyone) and not below one whose entries others may replace (theirs, or
 *   writable and not sticky). For writing as root (a restore target): a user's folder in /tmp holding
 *   `out -> /etc` is theirs to plant, sticky or not.
 */
export type SymlinkRule = 'kernel' | 'owned';

/** A symlink on the way that someone else may have planted: not followed. */
export class PlantableSymlinkError extends Error {
  readonly code = 'PLANTABLE_SYMLINK';
  constructor(readonly symlinkPath: string, readonly owner: number, why: string) {
    super(`"${symlinkPath}" is a symlink of uid ${owner}, and ${why}: not followed (someone else could have planted it)`);
  }
}

/**
 * The real path of an absolute path that exists, as realpath gives it. Throws the system's error of a
 * step (ENOENT for a dangling symlink, ENOTDIR for a name below a file), ELOOP past MAX_SYMLINKS, or
 * PlantableSymlinkError.
 */
export function operatorRealPath(absolute: string, rule: SymlinkRule): string {
  const pending = absolute.split('/').filter((name) => name.length > 0);
  let real = '/';
  let folder = lstatSync('/');
  // `owned`: the first folder on the way whose entries someone else could have replaced (then all below it is theirs to shape).
  let replaceableAt: string | undefined;
  let symlinks = 0;
  while (pending.length > 0) {
    const name = pending.shift()!;
    // Whatever comes next is looked up in `real`: a file there is ENOTDIR, as the kernel says.
    if (!folder.isDirectory()) throw systemError('ENOTDIR', `not a directory: ${real}`);
    if (name === '.') continue;
    if (name === '..') {
      real = join(real, '..');
      folder = lstatSync(real);
      continue;
    }
    const path = join(real, name);
    const entry = lstatSync(path);
    if (!entry.isSymbolicLink()) {
      if (replaceableAt === undefined && canReplace(folder, entry)) replaceableAt = real;
      real = path;
      folder = entry;
      continue;
    }
    if (++symlinks > MAX_SYMLINKS) throw systemError('ELOOP', `more than ${MAX_SYMLINKS} symlinks on the way to ${absolute} (a loop?)`);
    const refusal = rule === 'kernel' ? kernelRefusal(folder, entry) : ownedRefusal(real, folder, replaceableAt, entry);
    if (refusal !== undefined) throw new PlantableSymlinkError(path, entry.uid, refusal);
    const target = readlinkSync(path);
    // A trailing slash asks for a folder: "." checks it.
    pending.unshift(...target.split('/').filter((part) => part.length > 0), ...(target.endsWith('/') ? ['.'] : []));
    if (target.startsWith('/')) {
      // Chosen by a symlink no one else could have planted: its target's folders are judged afresh.
      real = '/';
      folder = lstatSync('/');
      replaceableAt = undefined;
    }
  }
  return real;
}

/** Why the kernel would not follow this symlink in that folder, or undefined. */
function kernelRefusal(folder: Stats, symlink: Stats): string | undefined {
  const isShared = (folder.mode & S_ISVTX) !== 0 && (folder.mode & S_IWOTH) !== 0;
  if (!isShared || isTrusted(symlink.uid) || symlink.uid === folder.uid) return undefined;
  return 'it sits in a sticky folder anyone may write to and belongs neither to this user nor to the folder\'s owner '
    + '(the kernel\'s fs.protected_symlinks rule)';
}

/** Why this symlink of someone else's is not followed where someone else could have made it, or undefined. */
function ownedRefusal(folderPath: string, folder: Stats, replaceableAt: string | undefined, symlink: Stats): string | undefined {
  if (isTrusted(symlink.uid)) return undefined;
  if (!isTrusted(folder.uid) || (folder.mode & (S_IWGRP | S_IWOTH)) !== 0) {
    return `it sits in "${folderPath}", where someone other than this user or root may create entries`;
  }
  if (replaceableAt !== undefined) return `it lies below "${replaceableAt}", where someone other than this user or root may replace folders`;
  return undefined;
}

/** Whether someone other than this user and root may replace `child` in `folder` (rename it away, put another there). */
function canReplace(folder: Stats, child: Stats): boolean {
  if (!isTrusted(folder.uid)) return true;
  if ((folder.mode & (S_IWGRP | S_IWOTH)) === 0) return false;
  // Sticky: only the child's owner (and the folder's) may rename it.
  return (folder.mode & S_ISVTX) === 0 || !isTrusted(child.uid);
}

function isTrusted(uid: number): boolean {
  return uid === 0 || uid === process.geteuid?.();
}

function systemError(code: string, text: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${text}`), { code });
}
