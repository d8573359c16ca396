// Loads the native POSIX addon (native/, built by `npm run build:native`) and types what it exports.
// A missing build is one clear error saying how to build it, never a bare MODULE_NOT_FOUND.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BackupError } from '../../common/errors';

/** What fstatat/fstat answer: Numbers where exact below 2^53, BigInts for inode, device and times. */
export interface PosixStat {
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly nlink: number;
  readonly size: number;
  /** 512-byte blocks allocated, as st_blocks. */
  readonly blocks: number;
  readonly blksize: number;
  readonly ino: bigint;
  readonly dev: bigint;
  readonly rdev: bigint;
  /** Nanoseconds since the epoch, exact for any time a file system holds (built from fstatat's seconds and nanoseconds). */
  readonly atimeNs: bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
}

export type Name = Buffer | string;
/** Whole seconds since the epoch (a BigInt or a safe integer); null leaves that time unchanged (UTIME_OMIT). */
export type TimeSeconds = bigint | number | null;

export interface PosixConstants {
  readonly O_RDONLY: number;
  readonly O_WRONLY: number;
  readonly O_RDWR: number;
  readonly O_CREAT: number;
  readonly O_EXCL: number;
  readonly O_TRUNC: number;
  readonly O_NOFOLLOW: number;
  readonly O_DIRECTORY: number;
  readonly O_NONBLOCK: number;
  readonly O_NOCTTY: number;
  readonly O_PATH: number;
  readonly O_CLOEXEC: number;
  readonly O_NOATIME: number;
  readonly O_TMPFILE: number;
  readonly AT_FDCWD: number;
  readonly AT_SYMLINK_NOFOLLOW: number;
  readonly AT_SYMLINK_FOLLOW: number;
  readonly AT_REMOVEDIR: number;
  readonly AT_EMPTY_PATH: number;
  readonly S_IFMT: number;
  readonly S_IFREG: number;
  readonly S_IFDIR: number;
  readonly S_IFLNK: number;
  readonly S_IFIFO: number;
  readonly S_IFCHR: number;
  readonly S_IFBLK: number;
  readonly S_IFSOCK: number;
  readonly XATTR_CREATE: number;
  readonly XATTR_REPLACE: number;
  readonly RENAME_NOREPLACE: number;
  readonly RENAME_EXCHANGE: number;
  readonly LOCK_EX: number;
  readonly LOCK_NB: number;
  readonly LOCK_UN: number;
}

/** The raw functions; errors are Node-style (code, errno, syscall, path with bytes escaped). */
export interface PosixAddon {
  readonly constants: PosixConstants;
  openat(dirfd: number, name: Name, flags: number, mode: number): number;
  mkdirat(dirfd: number, name: Name, mode: number): void;
  symlinkat(target: Name, dirfd: number, name: Name): void;
  readlinkat(dirfd: number, name: Name): Buffer;
  linkat(oldDirfd: number, oldName: Name, newDirfd: number, newName: Name, flags: number): void;
  renameat(oldDirfd: number, oldName: Name, newDirfd: number, newName: Name, flags: number): void;
  unlinkat(dirfd: number, name: Name, flags: number): void;
  fchownat(dirfd: number, name: Name, uid: number, gid: number, flags: number): void;
  fchown(fd: number, uid: number, gid: number): void;
  fchmod(fd: number, mode: number): void;
  fchmodat(dirfd: number, name: Name, mode: number, flags: number): void;
  /** fstatat's fields as 64-bit integers into out (13 elements): see native/stat.c. */
  fstatatInto(dirfd: number, name: Name, flags: number, out: BigInt64Array): void;
  /** The folder's listing in one buffer: its count, each name's d_ino, the names each ended by a NUL (see native/stat.c). */
  readdirAt(dirfd: number): Buffer;
  /** statx's birth time (ns since the epoch, 0 where the file system keeps none), inode number and device into out (3 elements): see native/stat.c. */
  birthTimeInto(dirfd: number, name: Name, flags: number, out: BigInt64Array): void;
  dataExtents(fd: number): [number, number][];
  /** lseek(fd, 0, SEEK_HOLE): the end for a file without holes, null where SEEK_HOLE is not supported. */
  firstHole(fd: number): number | null;
  /** FIEMAP's mapped extents that are not unwritten, merged; null where the filesystem has no FIEMAP. */
  writtenExtents(fd: number): [number, number][] | null;
  llistxattr(path: Name): Buffer[];
  flistxattr(fd: number): Buffer[];
  lgetxattr(path: Name, name: Name): Buffer;
  fgetxattr(fd: number, name: Name): Buffer;
  lsetxattr(path: Name, name: Name, value: Buffer, flags: number): void;
  fsetxattr(fd: number, name: Name, value: Buffer, flags: number): void;
  lremovexattr(path: Name, name: Name): void;
  fremovexattr(fd: number, name: Name): void;
  /** The following calls: for the kernel's /proc/self/fd/N link to a handle, which lands on the handle's own inode. */
  listxattr(path: Name): Buffer[];
  getxattr(path: Name, name: Name): Buffer;
  setxattr(path: Name, name: Name, value: Buffer, flags: number): void;
  removexattr(path: Name, name: Name): void;
  /** Linux 6.13's *xattrat (ENOSYS before): an O_PATH handle with path "" and AT_EMPTY_PATH, where the kernel takes one. */
  listxattrat(dirfd: number, path: Name, atFlags: number): Buffer[];
  getxattrat(dirfd: number, path: Name, atFlags: number, name: Name): Buffer;
  setxattrat(dirfd: number, path: Name, atFlags: number, name: Name, value: Buffer, flags: number): void;
  removexattrat(dirfd: number, path: Name, atFlags: number, name: Name): void;
  /** Each time a (seconds, nanoseconds) pair, nanoseconds 0..999999999 (ignored where seconds are null). */
  utimensat(dirfd: number, name: Name, atimeSec: TimeSeconds, atimeNsec: number, mtimeSec: TimeSeconds, mtimeNsec: number, flags: number): void;
  futimens(fd: number, atimeSec: TimeSeconds, atimeNsec: number, mtimeSec: TimeSeconds, mtimeNsec: number): void;
  mknodat(dirfd: number, name: Name, mode: number, rdev: bigint | number): void;
  makedev(major: number, minor: number): bigint;
  splitDev(rdev: bigint | number): [number, number];
  userName(uid: number): string | null;
  groupName(gid: number): string | null;
  userId(name: Name): number | null;
  groupId(name: Name): number | null;
  /** FS_IOC_GETFLAGS on an fd: null where the file system keeps no flags (native/flags.c, inode-flags.ts). */
  getInodeFlags(fd: number): number | null;
  /** FS_IOC_SETFLAGS on an fd: every flag, the file system's own included. */
  setInodeFlags(fd: number, flags: number): void;
  /** Writes back an open file's dirty pages (native/writeback.c, mapped-pages.ts): false where that cannot make them clean. */
  cleanMappedPages(fd: number): boolean;
  /** flock(2) on an open file: see native/lock.c and pid-lock.ts. */
  flock(fd: number, operation: number): void;
  /** FastCDC's gear-hash scan (native/gear.c): see src/chunkstore/chunker/fastcdc.ts. */
  gearFindCut(data: Buffer, from: number, end: number, mask: number, hashState: Int32Array, gear: Readonly<Int32Array>): number;
}

/** The addon is not built: says which command builds it. */
export class PosixAddonMissingError extends BackupError {
  readonly addonPath: string;
  constructor(addonPath: string, options?: { cause?: unknown }) {
    super(
      'IO',
      `the native POSIX addon is not built (${addonPath} is missing or does not load): run "npm run build:native" ` +
        '(or "npm run build") in the cpsbackup folder; it needs python3, make and a C compiler',
      options,
    );
    this.addonPath = addonPath;
  }
}

/** dist/src/client/posix → the repository root, where native/build lives (also right from src/ under ts-node). */
export function posixAddonPath(): string {
  const fromDist = resolve(__dirname, '..', '..', '..', '..');
  const fromSource = resolve(__dirname, '..', '..', '..');
  const root = existsSync(join(fromDist, 'native', 'binding.gyp')) ? fromDist : fromSource;
  return join(root, 'native', 'build', 'Release', 'cpsbackup_posix.node');
}

/**
 * The built addon, loaded once per process. Every stat, open and xattr call asks for it: finding the
 * path (an existsSync) and require()'s own lookup on each call cost 2 s of a 256 MiB backup's client
 * CPU. A cache of a loaded module, not state: it never changes once set.
 */
let loadedAddon: PosixAddon | undefined;

/** The loaded addon. addonPath: for tests, which load a build of their own (or a missing one). */
export function posixAddon(addonPath?: string): PosixAddon {
  if (addonPath === undefined && loadedAddon !== undefined) return loadedAddon;
  const path = addonPath ?? posixAddonPath();
  let addon: PosixAddon;
  try {
    addon = require(path) as PosixAddon;
  } catch (error) {
    throw new PosixAddonMissingError(path, { cause: error });
  }
  if (addonPath === undefined) loadedAddon = addon;
  return addon;
}
