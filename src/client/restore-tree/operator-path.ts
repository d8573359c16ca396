// The real path of a restore target the operator named: the symlinks on the way are followed (theirs to
// choose), except one that another user could have planted where anyone may write. Node's realpath
// resolves in user space, so the kernel's fs.protected_symlinks (which refuses exactly those) never
// applied to it, and the rule is applied here whatever that setting is.
import { lstat, readlink, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { RestoreSystemError, UntrustedSymlinkError } from './errors';

/** As the kernel's path walk (MAXSYMLINKS): more symlinks than this on one path is a loop. */
const MAX_SYMLINKS = 40;
const S_ISVTX = 0o1000;
const S_IWOTH = 0o002;

/** The real path of `absolute`, which exists; `target` (the operator's spelling) names the errors. */
export async function operatorRealPath(absolute: string, target: string): Promise<string> {
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
    const entry = await systemCall(() => lstat(path), target);
    if (!entry.isSymbolicLink()) {
      real = path;
      continue;
    }
    if (++symlinks > MAX_SYMLINKS) throw new RestoreSystemError(Buffer.from('/'), target, 'resolve the restore target', new Error(`more than ${MAX_SYMLINKS} symlinks on the way (a loop?)`));
    const folder = await systemCall(() => stat(real), target);
    if (isPlantable(folder, entry)) throw new UntrustedSymlinkError(path, entry.uid, real);
    const linkTarget = await systemCall(() => readlink(path), target);
    if (linkTarget.startsWith('/')) real = '/';
    pending.unshift(...linkTarget.split('/').filter((part) => part.length > 0));
  }
  return real;
}

/**
 * The kernel's fs.protected_symlinks rule: in a sticky folder anyone may write to (/tmp), a symlink is
 * followed only when it belongs to this user or to the folder's owner; anyone else could have put it there.
 */
function isPlantable(folder: Stats, symlink: Stats): boolean {
  const isShared = (folder.mode & S_ISVTX) !== 0 && (folder.mode & S_IWOTH) !== 0;
  return isShared && symlink.uid !== process.geteuid?.() && symlink.uid !== folder.uid;
}

async function systemCall<T>(call: () => Promise<T>, target: string): Promise<T> {
  try {
    return await call();
  } catch (error) {
    // ENOENT here is a dangling symlink on the way (the folder walk found something there).
    throw new RestoreSystemError(Buffer.from('/'), target, 'resolve the restore target', error);
  }
}
