// The real path of a path the operator named (a restore target, an include's folder): the symlinks on
// the way are followed (theirs to choose), except one that another user could have planted where anyone
// may write. Node's realpath resolves in user space, so the kernel's fs.protected_symlinks (which
// refuses such a symlink as the last component of a path it opens) never applied to it; here the rule
// holds at every depth, whatever that setting is.
import { lstatSync, readlinkSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';

/** As the kernel's path walk (MAXSYMLINKS): more symlinks than this on one path is a loop. */
const MAX_SYMLINKS = 40;
const S_ISVTX = 0o1000;
const S_IWOTH = 0o002;

/** A symlink on the way that another user may have planted: not followed. */
export class PlantableSymlinkError extends Error {
  readonly code = 'PLANTABLE_SYMLINK';
  constructor(readonly symlinkPath: string, readonly owner: number, readonly folder: string) {
    super(`"${symlinkPath}" is a symlink of uid ${owner} in "${folder}", a sticky folder anyone may write to, and belongs `
      + 'neither to this user nor to the folder\'s owner (the rule of the kernel\'s fs.protected_symlinks): not followed');
  }
}

/**
 * The real path of an absolute path that exists, as realpath gives it. Throws the system's error of a
 * step (ENOENT for a dangling symlink on the way), ELOOP past MAX_SYMLINKS, or PlantableSymlinkError.
 */
export function operatorRealPath(absolute: string): string {
  const pending = absolute.split('/').filter((name) => name.length > 0);
  let real = '/';
  let symlinks = 0;
  while (pending.length > 0) {
    const name = pending.shift()!;
    if (name === '.') continue;
    if (name === '..') {
      real = join(real, '..');
      continue;
    }
    const path = join(real, name);
    const entry = lstatSync(path);
    if (!entry.isSymbolicLink()) {
      real = path;
      continue;
    }
    if (++symlinks > MAX_SYMLINKS) {
      throw Object.assign(new Error(`ELOOP: more than ${MAX_SYMLINKS} symlinks on the way to ${absolute} (a loop?)`), { code: 'ELOOP' });
    }
    const folder = statSync(real);
    if (isPlantable(folder, entry)) throw new PlantableSymlinkError(path, entry.uid, real);
    const target = readlinkSync(path);
    if (target.startsWith('/')) real = '/';
    pending.unshift(...target.split('/').filter((part) => part.length > 0));
  }
  return real;
}

/**
 * The kernel's rule: in a sticky folder anyone may write to (/tmp), a symlink is followed only when it
 * belongs to this user or to the folder's owner; anyone else could have put it there.
 */
function isPlantable(folder: Stats, symlink: Stats): boolean {
  const isShared = (folder.mode & S_ISVTX) !== 0 && (folder.mode & S_IWOTH) !== 0;
  return isShared && symlink.uid !== process.geteuid?.() && symlink.uid !== folder.uid;
}
