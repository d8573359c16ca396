// Who besides root can change what a path leads to: every user who may replace an entry on the way (a
// folder, a symlink, the file at the end), whichever symlinks it goes through. A root process that must
// hand such a path to a tool that follows it (sqlite3) runs the tool as that one user, or not at all.
// The walk holds each folder by an fd, as operatorRealFolder does, so what is judged is what is entered.
import { closeSync } from 'node:fs';
import { join } from 'node:path';
import { openAt, posixConstants, readlinkAt, statFd, type PosixStat } from './at';
import { systemError, textOfTarget } from './operator-real-path';

/** As the kernel's path walk (MAXSYMLINKS). */
const MAX_SYMLINKS = 40;
const S_ISVTX = 0o1000;
const WRITABLE_BY_OTHERS = 0o022;

export interface PathControl {
  /** The path with every symlink resolved. */
  readonly realPath: string;
  /** What the path leads to, as it was when judged. */
  readonly stats: PosixStat;
  /** Users other than root who may replace something on the way (in the order met). */
  readonly controllers: readonly number[];
  /** A folder on the way in which a group, or anyone, may replace entries: too many to name. */
  readonly sharedAt: string | undefined;
  /** The folder that holds what the path leads to ("/" for "/" itself). */
  readonly folder: { readonly path: string; readonly stats: PosixStat };
}

/** Walks an absolute path as the kernel would; throws the system's error of a step (ENOENT, ELOOP, …). */
export function pathControllers(absolute: string): PathControl {
  const { S_IFMT, S_IFLNK, S_IFDIR, O_PATH, O_NOFOLLOW, O_DIRECTORY, AT_FDCWD } = posixConstants();
  const controllers = new Set<number>();
  let sharedAt: string | undefined;
  const root = (): { fd: number; path: string; stats: PosixStat } => {
    const fd = openAt(AT_FDCWD, '/', O_PATH | O_DIRECTORY);
    return { fd, path: '/', stats: statFd(fd) };
  };
  const held = [root()];
  const pending = absolute.split('/').filter((name) => name.length > 0);
  let symlinks = 0;
  try {
    for (;;) {
      const current = held[held.length - 1];
      const name = pending.shift();
      if (name === undefined) {
        const folder = held[Math.max(0, held.length - 2)];
        return { realPath: current.path, stats: current.stats, controllers: [...controllers], sharedAt, folder: { path: folder.path, stats: folder.stats } };
      }
      if (name === '.') continue;
      if (name === '..') {
        if (held.length > 1) closeSync(held.pop()!.fd);
        continue;
      }
      const path = join(current.path, name);
      const fd = openAt(current.fd, name, O_PATH | O_NOFOLLOW);
      let isHeld = false;
      try {
        const entry = statFd(fd);
        // Who may rename this entry away and put another in its place.
        if (current.stats.uid !== 0) controllers.add(current.stats.uid);
        if ((current.stats.mode & WRITABLE_BY_OTHERS) !== 0) {
          // Sticky (/tmp): only the entry's owner (and the folder's) may replace it.
          if ((current.stats.mode & S_ISVTX) === 0) sharedAt ??= current.path;
          else if (entry.uid !== 0) controllers.add(entry.uid);
        }
        const type = entry.mode & S_IFMT;
        if (type === S_IFLNK) {
          if (++symlinks > MAX_SYMLINKS) throw systemError('ELOOP', `more than ${MAX_SYMLINKS} symlinks on the way to ${absolute}`);
          const target = textOfTarget(path, readlinkAt(fd, ''));
          pending.unshift(...target.split('/').filter((part) => part.length > 0));
          if (target.startsWith('/')) {
            for (const folder of held.splice(0, held.length, root())) closeSync(folder.fd);
          }
          continue;
        }
        if (type !== S_IFDIR && pending.length > 0) throw systemError('ENOTDIR', `"${path}" is not a folder`);
        held.push({ fd, path, stats: entry });
        isHeld = true;
      } finally {
        if (!isHeld) closeSync(fd);
      }
    }
  } finally {
    for (const folder of held) closeSync(folder.fd);
  }
}
