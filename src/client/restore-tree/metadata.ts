// Applies an entry's metadata in the one order that keeps every part: owner first (chown clears
// setuid/setgid and file capabilities), then xattrs and ACLs, then the mode, then the times, then the
// inode flags (an immutable entry takes no other change).
import { closeSync } from 'node:fs';
import { chmodAt, chmodFd, chmodHandle, chownAt, chownFd, chownHandle, handlePath, openAt, posixConstants, statAt, statFd } from '../posix/at';
import type { PosixStat } from '../posix/addon';
import { type Owner, OwnerNames } from '../posix/owners';
import { type EntryTimes, setTimesAt, setTimesFd, setTimesHandle, splitNanoseconds } from '../posix/times';
import { ACL_ACCESS, ACL_DEFAULT, type XattrTarget, listXattrsIfSupported, removeXattr, setXattr } from '../posix/xattrs';
import { inodeFlagLetters, PRIVILEGED_INODE_FLAGS, readInodeFlags, setInodeFlags } from '../posix/inode-flags';
import type { MetadataFailure } from './errors';
import { narrowedMode } from './narrowed-mode';

export interface EntryMetadata {
  /** Recorded ids and names; the name wins when it exists here (tar's rule). */
  readonly owner?: Owner;
  /** Permission bits incl. setuid, setgid and sticky (07777). Ignored for symlinks, which have none on Linux. */
  readonly mode?: number;
  /**
   * The entry's complete attribute set (user.*, security.*, trusted.*, system.posix_acl_*). When given,
   * an ACL the kernel attached on creation from a parent's default ACL but absent here is removed.
   */
  readonly xattrs?: readonly { readonly name: Buffer | string; readonly value: Buffer }[];
  /**
   * For an entry that was already there (a folder whose metadata an overwrite replaces): which of its
   * own attributes the backup's set replaces, removed when the backup lacks them. Without it only an
   * inherited ACL is removed.
   */
  readonly replacesXattr?: (name: Buffer) => boolean;
  readonly atimeNs?: bigint;
  readonly mtimeNs?: bigint;
  /**
   * chattr's flags (posix/inode-flags.ts), set last, through an fd only: not for a symlink or special
   * file. A regular file's go after its rename into place (TempFile.commit): rename refuses an immutable
   * or append-only file.
   */
  readonly inodeFlags?: number;
}

/** What the kernel may attach to a new entry from its folder's default ACL. */
const INHERITED_ACLS: ReadonlySet<string> = new Set([ACL_ACCESS, ACL_DEFAULT]);

/**
 * Which entry, each named so that it cannot be swapped under the restore:
 * - fd: an open fd (a file being written, a folder opened and checked as the restore's); sawStat is handed any
 *   fstat a step made of it;
 * - handle: an O_PATH handle of a symlink or special file just made and checked (nothing else can be
 *   opened without acting on it), or of a checked folder this user may not read. Every step, its xattrs
 *   and ACLs too, goes through the handle (posix/xattrs.ts), never by name: a name swapped since the
 *   check (a hard link to another file put there) is never reached;
 * - dirfd + name: by name, only where no one else can put another entry under it (the root's ".").
 */
export type MetadataTarget = { readonly fd: number; readonly isFolder?: boolean; readonly sawStat?: (stats: PosixStat) => void }
  | { readonly handle: number; readonly isSymlink: boolean; readonly isFolder?: boolean }
  | { readonly dirfd: number; readonly name: Buffer; readonly isSymlink: boolean; readonly isFolder: boolean };

interface MetadataCalls {
  readonly isSymlink: boolean;
  readonly isFolder: boolean;
  readonly xattrTarget: XattrTarget;
  chown(uid: number, gid: number): void;
  chmod(mode: number): void;
  setTimes(times: EntryTimes): void;
  stat(): PosixStat;
  setInodeFlags(flags: number): void;
  /** The kept flags it has now (0 for an entry that has none: neither a file by fd nor a folder). */
  inodeFlags(): number;
}

function callsOf(target: MetadataTarget): MetadataCalls {
  if ('fd' in target) {
    const { fd } = target;
    return {
      isSymlink: false, isFolder: target.isFolder === true, xattrTarget: { fd },
      chown: (uid, gid) => chownFd(fd, uid, gid), chmod: (mode) => chmodFd(fd, mode),
      setTimes: (times) => setTimesFd(fd, times),
      stat: () => {
        const stats = statFd(fd);
        target.sawStat?.(stats);
        return stats;
      },
      setInodeFlags: (flags) => setInodeFlags(fd, flags), inodeFlags: () => readInodeFlags(fd),
    };
  }
  if ('handle' in target) {
    const { handle } = target;
    return {
      isSymlink: target.isSymlink, isFolder: target.isFolder === true, xattrTarget: { handle },
      chown: (uid, gid) => chownHandle(handle, uid, gid), chmod: (mode) => chmodHandle(handle, mode),
      setTimes: (times) => setTimesHandle(handle, times), stat: () => statFd(handle),
      // An O_PATH handle takes no ioctl: the folder opened again through the kernel's link to the handle's own inode.
      setInodeFlags: (flags) => withFolderOpened(posixConstants().AT_FDCWD, handlePath(handle), (fd) => setInodeFlags(fd, flags)),
      inodeFlags: () => (target.isFolder === true ? withFolderOpened(posixConstants().AT_FDCWD, handlePath(handle), readInodeFlags) : 0),
    };
  }
  const { dirfd, name } = target;
  return {
    isSymlink: target.isSymlink, isFolder: target.isFolder, xattrTarget: { dirfd, name },
    chown: (uid, gid) => chownAt(dirfd, name, uid, gid), chmod: (mode) => chmodAt(dirfd, name, mode),
    setTimes: (times) => setTimesAt(dirfd, name, times), stat: () => statAt(dirfd, name),
    setInodeFlags: (flags) => withFolderOpened(dirfd, name, (fd) => setInodeFlags(fd, flags)),
    inodeFlags: () => (target.isFolder && !target.isSymlink ? withFolderOpened(dirfd, name, readInodeFlags) : 0),
  };
}

/** Runs every step, collecting failures instead of stopping at the first: one missing xattr must not cost the mtime. */
export function applyMetadata(target: MetadataTarget, metadata: EntryMetadata, owners: OwnerNames): MetadataFailure[] {
  const failures: MetadataFailure[] = [];
  const step = (name: string, action: () => void): void => {
    try {
      action();
    } catch (error) {
      failures.push({ step: name, error: error instanceof Error ? error : new Error(String(error)) });
    }
  };
  const calls = callsOf(target);
  const { xattrTarget } = calls;
  // An existing immutable or append-only entry (a folder an --overwrite finds as the backup has it) refuses
  // the steps below, even those that change nothing: its i and a are lifted first, and set back last.
  // Only a folder can be such an existing entry: a file is always a new temp file (i and a are never
  // inherited), so reading its flags here cost two ioctls per restored file for nothing.
  let lifted: number | undefined;
  let current = 0;
  try {
    current = calls.isFolder && !calls.isSymlink ? calls.inodeFlags() : 0;
  } catch {
    // Unreadable: nothing to lift, and the steps below say what they cannot do.
  }
  if ((current & PRIVILEGED_INODE_FLAGS) !== 0) {
    step('inode flags (lifting i and a)', () => calls.setInodeFlags(current & ~PRIVILEGED_INODE_FLAGS));
    lifted = current;
  }

  const ids = metadata.owner === undefined ? undefined : owners.localIds(metadata.owner);
  if (ids !== undefined) step('owner', () => calls.chown(ids.uid, ids.gid));
  if (metadata.xattrs !== undefined) {
    const wanted = new Set(metadata.xattrs.map((xattr) => Buffer.from(xattr.name).toString('latin1')));
    const replaces = metadata.replacesXattr ?? ((name: Buffer) => INHERITED_ACLS.has(name.toString('latin1')));
    // Listed only when something could be unwanted: it is a system call per restored file.
    let present: Buffer[] = [];
    if (metadata.replacesXattr !== undefined || [...INHERITED_ACLS].some((acl) => !wanted.has(acl))) {
      // A target with no attributes at all has none to remove; one it cannot set still fails below.
      step('xattr list', () => { present = listXattrsIfSupported(xattrTarget); });
    }
    for (const name of present) {
      const key = name.toString('latin1');
      if (!wanted.has(key) && replaces(name)) step(`xattr ${key}`, () => removeXattr(xattrTarget, name));
    }
    for (const xattr of metadata.xattrs) {
      step(`xattr ${Buffer.from(xattr.name).toString('latin1')}`, () => setXattr(xattrTarget, xattr.name, xattr.value));
    }
  }
  if (metadata.mode !== undefined && !calls.isSymlink) {
    const accessAcl = metadata.xattrs?.find((xattr) => Buffer.from(xattr.name).toString('latin1') === ACL_ACCESS)?.value;
    const failedSteps = new Set(failures.map((failure) => failure.step));
    // Asked only of a folder whose owner failed: one chown sets both ids, so its group may be wrong too.
    const isFolderInItsGroup = calls.isFolder && failedSteps.has('owner') && ids !== undefined && statIfExists(calls)?.gid === ids.gid;
    const { mode, reasons } = narrowedMode(metadata.mode & 0o7777, failedSteps, accessAcl, isFolderInItsGroup);
    step('mode', () => calls.chmod(mode));
    for (const reason of reasons) failures.push({ step: 'mode', error: new Error(reason) });
  }
  if (metadata.atimeNs !== undefined || metadata.mtimeNs !== undefined) {
    const times = { atimeNs: metadata.atimeNs, mtimeNs: metadata.mtimeNs };
    step('times', () => {
      calls.setTimes(times);
      if (isBeyond32BitSeconds(times) || hasFractionOfSecond(times)) checkTimesKept(times, calls.stat());
    });
  }
  // Last: an immutable entry refuses every change above, an append-only one some. Only folders by name
  // or handle (opened as a folder, never followed); a symlink or special file has none to set.
  const inodeFlags = metadata.inodeFlags ?? lifted;
  if (inodeFlags !== undefined && (('fd' in target) || calls.isFolder) && !calls.isSymlink) {
    const flags = inodeFlags;
    step(`inode flags ${inodeFlagLetters(flags) || '(none)'}`, () => calls.setInodeFlags(flags));
  }
  return failures;
}

/** Opens `name` under dirfd as a folder for reading (never following a final symlink), hands its fd to use, closes it. */
function withFolderOpened<T>(dirfd: number, name: Buffer | string, use: (fd: number) => T): T {
  const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW } = posixConstants();
  const isProcLink = typeof name === 'string' && name.startsWith('/proc/self/fd/');
  const fd = openAt(dirfd, name, O_RDONLY | O_DIRECTORY | (isProcLink ? 0 : O_NOFOLLOW));
  try {
    return use(fd);
  } finally {
    closeSync(fd);
  }
}

function statIfExists(calls: MetadataCalls): PosixStat | undefined {
  try {
    return calls.stat();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

const INT32_MIN = -(2n ** 31n);
const INT32_MAX = 2n ** 31n - 1n;

/** A time not every file system holds: ext4 keeps 1901-12-13..2446-05-10 (..2038-01-19 in small inodes), FAT 1980..2107. */
function isBeyond32BitSeconds(times: EntryTimes): boolean {
  return [times.atimeNs, times.mtimeNs].some((timeNs) => {
    if (timeNs === undefined) return false;
    const { seconds } = splitNanoseconds(timeNs);
    return seconds < INT32_MIN || seconds > INT32_MAX;
  });
}

/** A time with a part below the second, which a file system of whole seconds (ext4 in 128-byte inodes, ext3, FAT) drops. */
function hasFractionOfSecond(times: EntryTimes): boolean {
  return [times.atimeNs, times.mtimeNs].some((timeNs) => timeNs !== undefined && splitNanoseconds(timeNs).nanoseconds !== 0);
}

/**
 * A file system truncates a time to its own precision, and clamps one beyond its range, and reports
 * success (Linux's timestamp_truncate): ext4 given 2500 keeps 2446, ext3 keeps whole seconds. Read back
 * so the restore says so (exit 3) rather than restore another time. One fstat per entry with such a time.
 */
function checkTimesKept(times: EntryTimes, stored: PosixStat): void {
  const pairs = [['mtime', times.mtimeNs, stored.mtimeNs], ['atime', times.atimeNs, stored.atimeNs]] as const;
  for (const [name, wantedNs, storedNs] of pairs) {
    if (wantedNs === undefined || wantedNs === storedNs) continue;
    const wanted = splitNanoseconds(wantedNs);
    const kept = splitNanoseconds(storedNs);
    if (wanted.seconds !== kept.seconds) throw new Error(`the file system kept ${name} ${kept.seconds} s for ${wanted.seconds} s: outside the times it can hold`);
    throw new TimePrecisionError(name, wanted.nanoseconds, kept.nanoseconds);
  }
}

/** The file system kept a time to a coarser precision than the backup's (whole seconds, say): listed together, not file by file. */
export class TimePrecisionError extends Error {
  constructor(readonly timeName: string, readonly wantedNanoseconds: number, readonly keptNanoseconds: number) {
    super(`the file system kept ${timeName} to a coarser precision: .${String(keptNanoseconds).padStart(9, '0')} s for .${String(wantedNanoseconds).padStart(9, '0')} s`);
    this.name = 'TimePrecisionError';
  }
}
