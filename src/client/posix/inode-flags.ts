// Inode flags (chattr's) of a regular file or folder, read and set through an fd the caller holds,
// never by name: FS_IOC_GETFLAGS / FS_IOC_SETFLAGS (native/flags.c).
import { posixAddon } from './addon';

/** linux/fs.h's values: the kernel's ABI, the same on every architecture. */
export const INODE_FLAG = {
  sync: 0x8, // S: writes synchronous
  immutable: 0x10, // i: no change, no new name, no removal (CAP_LINUX_IMMUTABLE to set or clear)
  append: 0x20, // a: written only at the end (CAP_LINUX_IMMUTABLE to set or clear)
  nodump: 0x40, // d: left out by dump(8) and backups that honour it
  noatime: 0x80, // A: no atime update
  dirsync: 0x10000, // D: a folder's changes synchronous
} as const;

/**
 * The flags a backup keeps and a restore sets (borg keeps a similar few): what a user sets with chattr
 * and means. Not kept: what the file system decides or keeps for itself (extents, inline data,
 * encryption, casefold, verity, DAX, the project id's inheritance), compression (btrfs's to choose) and
 * no-CoW (FS_NOCOW_FL: takes hold only on an empty file, and the restore writes content first).
 */
export const KEPT_INODE_FLAGS = INODE_FLAG.sync | INODE_FLAG.immutable | INODE_FLAG.append | INODE_FLAG.nodump
  | INODE_FLAG.noatime | INODE_FLAG.dirsync;

/** Those a user without CAP_LINUX_IMMUTABLE can neither set nor clear. */
export const PRIVILEGED_INODE_FLAGS = INODE_FLAG.immutable | INODE_FLAG.append;

/** chattr's letter for each kept flag, in lsattr's order. */
const LETTERS: readonly (readonly [number, string])[] = [
  [INODE_FLAG.sync, 'S'], [INODE_FLAG.dirsync, 'D'], [INODE_FLAG.immutable, 'i'], [INODE_FLAG.append, 'a'],
  [INODE_FLAG.nodump, 'd'], [INODE_FLAG.noatime, 'A'],
];

/** The kept flags of the inode open at fd; 0 where its file system keeps none (tmpfs before 6.0, FUSE, NFS). */
export function readInodeFlags(fd: number): number {
  return (posixAddon().getInodeFlags(fd) ?? 0) & KEPT_INODE_FLAGS;
}

/** The inode's flags as the file system has them, all of them; null where it keeps none. */
export function readAllInodeFlags(fd: number): number | null {
  return posixAddon().getInodeFlags(fd);
}

/**
 * Gives the inode open at fd the kept flags `wanted` (the others, the file system's own, stay as they
 * are). Nothing is asked of the kernel when they are already so. Throws as the ioctl fails: EPERM for
 * an immutable or append-only change without CAP_LINUX_IMMUTABLE, ENOTTY/EOPNOTSUPP where the file
 * system keeps no flags.
 */
export function setInodeFlags(fd: number, wanted: number): void {
  const addon = posixAddon();
  const current = addon.getInodeFlags(fd);
  const kept = wanted & KEPT_INODE_FLAGS;
  if (current === null) {
    if (kept === 0) return;
    const error = Object.assign(new Error('EOPNOTSUPP: the file system keeps no inode flags'), { code: 'EOPNOTSUPP' });
    throw error;
  }
  const next = (current & ~KEPT_INODE_FLAGS) | kept;
  if (next !== current) addon.setInodeFlags(fd, next >>> 0);
}

/** The kept flags as chattr's letters ('' for none), e.g. "ia" for immutable and append-only. */
export function inodeFlagLetters(flags: number): string {
  return LETTERS.filter(([flag]) => (flags & flag) !== 0).map(([, letter]) => letter).join('');
}
