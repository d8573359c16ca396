// The at-family: operations on an entry named by a held directory fd plus one name, so no path is
// resolved twice and no symlink is followed unless asked. Synchronous: each is one metadata syscall.
import { closeSync, statfsSync } from 'node:fs';
import { type Name, type PosixConstants, type PosixStat, posixAddon } from './addon';

export type { Name, PosixStat } from './addon';

export function posixConstants(): PosixConstants {
  return posixAddon().constants;
}

/** openat(2); O_CLOEXEC is always added. mode matters only with O_CREAT. */
export function openAt(dirfd: number, name: Name, flags: number, mode = 0): number {
  return posixAddon().openat(dirfd, name, flags, mode);
}

/**
 * openat(2) to read an entry without moving its atime (O_NOATIME), as restic and borg read: a backup that
 * marked every file and folder it read as read (relatime moves an atime older than the mtime, and one a
 * day old) changed live data nobody asked it to touch, and broke what reads atimes (an mbox's "new mail",
 * tmpreaper, cache eviction). The kernel gives O_NOATIME to the entry's owner and to CAP_FOWNER only:
 * `mayKeepAtime` false skips it (another user's file: EPERM every time), and EPERM anyway (root without
 * CAP_FOWNER, a user namespace) opens once more without it.
 */
export function openKeepingAtimeAt(dirfd: number, name: Name, flags: number, mayKeepAtime = true): number {
  if (!mayKeepAtime) return openAt(dirfd, name, flags);
  try {
    return openAt(dirfd, name, flags | posixConstants().O_NOATIME);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') throw error;
    return openAt(dirfd, name, flags);
  }
}

/** Opens a directory to list it, its atime kept (openKeepingAtimeAt), without following a symlink in its last component (ELOOP or ENOTDIR then). */
export function openFolderAt(dirfd: number, name: Name): number {
  const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW } = posixConstants();
  return openKeepingAtimeAt(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
}

/**
 * Opens a folder as a handle for *at calls only (O_PATH): no read permission needed, as when passing
 * through a 0711 folder; a symlink in the last component fails with ENOTDIR, never followed.
 */
export function openFolderHandleAt(dirfd: number, name: Name): number {
  const { O_PATH, O_DIRECTORY, O_NOFOLLOW } = posixConstants();
  return openAt(dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW);
}

/**
 * The folder at a real path (no symlink in it, as realpath gives it; bytes for names that need not be
 * UTF-8), reached from "/" one folder at a time without following a symlink: a folder on the way
 * swapped for a symlink since realpath is refused
 * (ELOOP or ENOTDIR), never followed into another folder. The folders on the way are O_PATH handles
 * (passing through a 0711 folder needs no read permission); the last is opened by `openLast`. `explain`,
 * given the folder that could not be passed, what it was asked for and the path up to it, says what to
 * throw instead of the system's error.
 */
export function openRealPath(realPath: Name, openLast: (dirfd: number, name: Name) => number = openFolderHandleAt,
  explain?: (parentFd: number, component: Name, walked: string, error: unknown) => unknown): number {
  const components = pathComponents(realPath);
  if (components.length === 0) return openLast(posixConstants().AT_FDCWD, '/');
  let fd = openFolderHandleAt(posixConstants().AT_FDCWD, '/');
  let walked = '';
  for (const [index, component] of components.entries()) {
    walked += `/${component.toString()}`;
    let next: number;
    try {
      next = (index === components.length - 1 ? openLast : openFolderHandleAt)(fd, component);
    } catch (error) {
      let thrown: unknown = error;
      try {
        thrown = explain?.(fd, component, walked, error) ?? error;
      } finally {
        closeSync(fd);
      }
      throw thrown;
    }
    closeSync(fd);
    fd = next;
  }
  return fd;
}

/** The names of a path's folders and its last entry; a path given as bytes is split as bytes (its names need not be UTF-8). */
function pathComponents(path: Name): Name[] {
  if (typeof path === 'string') return path.split('/').filter((component) => component.length > 0);
  const components: Buffer[] = [];
  let start = 0;
  for (let slash = path.indexOf(0x2f); slash >= 0; slash = path.indexOf(0x2f, start)) {
    if (slash > start) components.push(path.subarray(start, slash));
    start = slash + 1;
  }
  if (start < path.length) components.push(path.subarray(start));
  return components;
}

export function mkdirAt(dirfd: number, name: Name, mode: number): void {
  posixAddon().mkdirat(dirfd, name, mode);
}

/** Stores target's bytes as the link's content; never resolved. */
export function symlinkAt(target: Name, dirfd: number, name: Name): void {
  posixAddon().symlinkat(target, dirfd, name);
}

export function readlinkAt(dirfd: number, name: Name): Buffer {
  return posixAddon().readlinkat(dirfd, name);
}

/** linkat(2) with flags 0: a symlink at the old end is linked itself, never its target. */
export function linkAt(oldDirfd: number, oldName: Name, newDirfd: number, newName: Name): void {
  posixAddon().linkat(oldDirfd, oldName, newDirfd, newName, 0);
}

/**
 * A new name for exactly the inode an O_PATH handle holds (never whatever a name leads to now):
 * linkat(handle, "", AT_EMPTY_PATH), which needs CAP_DAC_READ_SEARCH; without it (ENOENT) through
 * the kernel's link to the handle, /proc/self/fd/<handle>, followed to that inode and no further.
 */
export function linkHandleAt(handle: number, newDirfd: number, newName: Name): void {
  const { AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_FOLLOW } = posixConstants();
  try {
    posixAddon().linkat(handle, '', newDirfd, newName, AT_EMPTY_PATH);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    posixAddon().linkat(AT_FDCWD, handlePath(handle), newDirfd, newName, AT_SYMLINK_FOLLOW);
  }
}

/** renameat(2), or renameat2(2) when flags (RENAME_NOREPLACE, RENAME_EXCHANGE) are given. */
export function renameAt(oldDirfd: number, oldName: Name, newDirfd: number, newName: Name, flags = 0): void {
  posixAddon().renameat(oldDirfd, oldName, newDirfd, newName, flags);
}

/** unlinkat(2); removeFolder uses AT_REMOVEDIR (the folder must be empty). */
export function unlinkAt(dirfd: number, name: Name, options: { removeFolder?: boolean } = {}): void {
  posixAddon().unlinkat(dirfd, name, options.removeFolder === true ? posixConstants().AT_REMOVEDIR : 0);
}

/** lchown relative to dirfd (AT_SYMLINK_NOFOLLOW): a symlink gets the owner, not its target. -1 keeps an id. */
export function chownAt(dirfd: number, name: Name, uid: number, gid: number): void {
  posixAddon().fchownat(dirfd, name, uid, gid, posixConstants().AT_SYMLINK_NOFOLLOW);
}

/**
 * Opens an entry of any kind as an O_PATH handle, never following it nor acting on it (a FIFO or a
 * device is not opened for I/O): to check what it is, then act on exactly that inode.
 */
export function openHandleAt(dirfd: number, name: Name): number {
  const { O_PATH, O_NOFOLLOW } = posixConstants();
  return openAt(dirfd, name, O_PATH | O_NOFOLLOW);
}

/** The kernel's link to an fd's inode: followed, it lands on that inode itself (a symlink's too, never its target). */
export function handlePath(handle: number): string {
  return `/proc/self/fd/${handle}`;
}

/** fchownat(handle, "", AT_EMPTY_PATH): the handle's own inode (a symlink's too), an O_PATH one included. */
export function chownHandle(handle: number, uid: number, gid: number): void {
  posixAddon().fchownat(handle, '', uid, gid, posixConstants().AT_EMPTY_PATH);
}

/** The mode of an O_PATH handle's inode (fchmod refuses O_PATH): through its /proc link. Not for a symlink (EOPNOTSUPP). */
export function chmodHandle(handle: number, mode: number): void {
  posixAddon().fchmodat(posixConstants().AT_FDCWD, handlePath(handle), mode, 0);
}

export function chownFd(fd: number, uid: number, gid: number): void {
  posixAddon().fchown(fd, uid, gid);
}

/** Mode bits incl. setuid/setgid/sticky (07777) on an open fd. */
export function chmodFd(fd: number, mode: number): void {
  posixAddon().fchmod(fd, mode);
}

/** fchmodat with AT_SYMLINK_NOFOLLOW: changes a FIFO or device in place; on a symlink it fails (EOPNOTSUPP). */
export function chmodAt(dirfd: number, name: Name, mode: number): void {
  posixAddon().fchmodat(dirfd, name, mode, posixConstants().AT_SYMLINK_NOFOLLOW);
}

/**
 * Where fstatat's answer lands, read back before the call returns: one for the thread, as a fresh
 * 128-byte array per call (outside V8's heap, an ArrayBuffer for the collector to track) cost 5.3 µs a
 * stat here against 2.5, and a backup makes three stats of each file it reads (at the walk, at open,
 * after reading). Synchronous use only, so no two calls can share it.
 */
const statAnswer = new BigInt64Array(16);

const NANOSECONDS_PER_SECOND = 1_000_000_000n;

/** fstatat(2), the answer's object built here (see fstatatInto in native/stat.c: three times faster). */
function fstatat(dirfd: number, name: Name, flags: number): PosixStat {
  const out = statAnswer;
  posixAddon().fstatatInto(dirfd, name, flags, out);
  return {
    mode: Number(out[0]), uid: Number(out[1]), gid: Number(out[2]), nlink: Number(out[3]), size: Number(out[4]),
    blocks: Number(out[5]), blksize: Number(out[6]),
    ino: unsigned64(out[7]), dev: unsigned64(out[8]), rdev: unsigned64(out[9]),
    // Joined here, in a BigInt, which cannot overflow: the native side's int64 did after 2262-04-11.
    atimeNs: out[10] * NANOSECONDS_PER_SECOND + out[11],
    mtimeNs: out[12] * NANOSECONDS_PER_SECOND + out[13],
    ctimeNs: out[14] * NANOSECONDS_PER_SECOND + out[15],
  };
}

/** An unsigned 64-bit field read from a signed array: converted only when its top bit is set (each conversion is another BigInt to collect). */
function unsigned64(value: bigint): bigint {
  return value < 0n ? BigInt.asUintN(64, value) : value;
}

/** lstat relative to dirfd. */
export function statAt(dirfd: number, name: Name): PosixStat {
  return fstatat(dirfd, name, posixConstants().AT_SYMLINK_NOFOLLOW);
}

/** lstat relative to dirfd; undefined when nothing has that name. */
export function statAtIfExists(dirfd: number, name: Name): PosixStat | undefined {
  try {
    return statAt(dirfd, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** When an inode was made (statx btime, ns since the epoch; undefined where its file system keeps no such time), and which inode it is. */
export interface Birth {
  readonly bornNs: bigint | undefined;
  readonly ino: bigint;
  readonly dev: bigint;
}

/** The birth of the entry dirfd and name reach, not following a symlink; of dirfd itself when name is ''. */
export function birthAt(dirfd: number, name: Name): Birth {
  const out = new BigInt64Array(3);
  const flags = name === '' ? posixConstants().AT_EMPTY_PATH : posixConstants().AT_SYMLINK_NOFOLLOW;
  posixAddon().birthTimeInto(dirfd, name, flags, out);
  return { bornNs: out[0] === 0n ? undefined : out[0], ino: unsigned64(out[1]), dev: unsigned64(out[2]) };
}

/** The statfs type (f_type) of the file system the fd is on, read through /proc (throws where it cannot be). */
export function fileSystemTypeOf(fd: number): number {
  return statfsSync(`/proc/self/fd/${fd}`).type;
}

export function statFd(fd: number): PosixStat {
  return fstatat(fd, '', posixConstants().AT_EMPTY_PATH);
}

/** Every name in the folder but "." and "..", as bytes, in directory order. */
export function readFolderAt(dirfd: number): Buffer[] {
  return readFolderInodesAt(dirfd).names;
}

/** A folder's listing: its names (views into one buffer, which they keep alive) and their inode numbers, in directory order. */
export interface FolderListing {
  readonly names: Buffer[];
  /** Each name's inode number as the folder lists it (d_ino). */
  readonly inodes: BigUint64Array;
  /** The names as one latin1 string (a character a byte), separated by NUL (no name holds one). */
  readonly joinedNames: string;
}

/** The folder's listing (see FolderListing). */
export function readFolderInodesAt(dirfd: number): FolderListing {
  let listing = posixAddon().readdirAt(dirfd);
  // A buffer of its own begins on an 8-byte boundary; copied when it does not, as BigUint64Array needs.
  if (listing.byteOffset % 8 !== 0) listing = Buffer.from(listing);
  const count = Number(new BigUint64Array(listing.buffer, listing.byteOffset, 1)[0]);
  const inodes = new BigUint64Array(listing.buffer, listing.byteOffset + 8, count);
  const names: Buffer[] = new Array<Buffer>(count);
  const namesStart = 8 * (1 + count);
  let start = namesStart;
  for (let index = 0; index < count; index++) {
    const end = listing.indexOf(0, start);
    names[index] = listing.subarray(start, end);
    start = end + 1;
  }
  return { names, inodes, joinedNames: count === 0 ? '' : listing.toString('latin1', namesStart, listing.length - 1) };
}

export type EntryKind = 'file' | 'folder' | 'symlink' | 'fifo' | 'char-device' | 'block-device' | 'socket' | 'unknown';

export function entryKind(mode: number): EntryKind {
  const constants = posixConstants();
  switch (mode & constants.S_IFMT) {
    case constants.S_IFREG:
      return 'file';
    case constants.S_IFDIR:
      return 'folder';
    case constants.S_IFLNK:
      return 'symlink';
    case constants.S_IFIFO:
      return 'fifo';
    case constants.S_IFCHR:
      return 'char-device';
    case constants.S_IFBLK:
      return 'block-device';
    case constants.S_IFSOCK:
      return 'socket';
    default:
      return 'unknown';
  }
}
