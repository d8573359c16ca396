// Builds the wire's EntryMeta from an lstat (the POSIX layer's, times in nanoseconds), and decides
// whether a file is unchanged since the parent backup.
import { createHash } from 'node:crypto';
import { EntryType, type EntryMeta, type Xattr } from '../proto/cpsbackup';
import type { EntryKind, PosixStat } from './posix/at';
import type { OwnerNames } from './posix/owners';
import { splitNanoseconds } from './posix/times';

const NOTHING = Buffer.alloc(0);

const TYPE_OF_KIND: Readonly<Record<EntryKind, EntryType | undefined>> = {
  file: EntryType.ENTRY_TYPE_FILE,
  folder: EntryType.ENTRY_TYPE_DIRECTORY,
  symlink: EntryType.ENTRY_TYPE_SYMLINK,
  fifo: EntryType.ENTRY_TYPE_FIFO,
  'char-device': EntryType.ENTRY_TYPE_CHAR_DEVICE,
  'block-device': EntryType.ENTRY_TYPE_BLOCK_DEVICE,
  socket: EntryType.ENTRY_TYPE_SOCKET,
  unknown: undefined,
};

export function entryTypeOf(kind: EntryKind): EntryType | undefined {
  return TYPE_OF_KIND[kind];
}

export function entryMetaFromStat(path: Buffer, type: EntryType, stats: PosixStat, owners: OwnerNames, linkTarget: Buffer = NOTHING): EntryMeta {
  const isDevice = type === EntryType.ENTRY_TYPE_CHAR_DEVICE || type === EntryType.ENTRY_TYPE_BLOCK_DEVICE;
  // Floored, as struct timespec holds a time: before 1970, -1.5 s is -2 s + 500,000,000 ns. Truncated
  // (-1 s, -500,000,000 ns), the nanoseconds were negative: the wire refused them (a uint32).
  const mtime = splitNanoseconds(stats.mtimeNs);
  const ctime = splitNanoseconds(stats.ctimeNs);
  return {
    path, type,
    mode: stats.mode & 0o7777,
    uid: stats.uid, gid: stats.gid,
    user: owners.userName(stats.uid) ?? '', group: owners.groupName(stats.gid) ?? '',
    mtimeSec: Number(mtime.seconds), mtimeNsec: mtime.nanoseconds, ctimeSec: Number(ctime.seconds), ctimeNsec: ctime.nanoseconds,
    inode: safeInteger(stats.ino), device: safeInteger(stats.dev), nlink: stats.nlink,
    rdev: isDevice ? Number(stats.rdev) : 0,
    size: type === EntryType.ENTRY_TYPE_FILE ? stats.size : 0,
    linkTarget, xattrs: [], extents: [], hardlinkTarget: NOTHING, inodeFlags: 0, inodeFlagsKnown: false, damage: '',
  };
}

const SAFE_MASK = (1n << 53n) - 1n;

/**
 * An inode or device number as the wire and catalog hold it: exact up to 2^53 - 1, above that (hashed
 * inode numbers: mergerfs, overlayfs with xino) hashed into 53 bits, the same way every backup, where
 * the server refused the whole backup. A hash, not a fold of the high bits onto the low ones: overlayfs
 * puts a layer number in the high bits, and a fold made its layers' inodes meet. The stored number
 * serves the unchanged check (beside size, mtime and ctime) and the restore's link groups (beside the
 * content); the backup tells hard links apart by the exact numbers (EntrySender).
 */
export function safeInteger(value: bigint): number {
  if (value <= SAFE_MASK) return Number(value);
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64BE(BigInt.asUintN(64, value));
  return Number(createHash('sha256').update(bytes).digest().readBigUInt64BE(0) & SAFE_MASK);
}

/**
 * The metadata of a file read just after a change (FileContent.isRecentlyChanged): its ctime recorded
 * one nanosecond off, so the next backup's unchanged check never matches it and reads the file again.
 * A second write in the same timestamp tick would otherwise leave its stat as it was, and every later
 * backup would carry the content read before it. The ctime cannot be restored; only this check reads it.
 */
export function withRacyCtime(meta: EntryMeta): EntryMeta {
  return { ...meta, ctimeNsec: meta.ctimeNsec ^ 1 };
}

/**
 * What the server sends of each parent entry when asked for the unchanged check only: what isUnchanged
 * reads, (from a server that accepts carried runs) what isCarriable reads, and (from a server that
 * sends them) the ACLs and the names recorded with them, which the sender checks against this
 * machine's names now (posix/acl-names.ts hasCurrentAclNames).
 */
export type ParentFile = Pick<EntryMeta, 'type' | 'mode' | 'size' | 'mtimeSec' | 'mtimeNsec' | 'ctimeSec' | 'ctimeNsec' | 'inode'
  | 'uid' | 'gid' | 'user' | 'group' | 'device' | 'nlink'> & { readonly aclXattrs?: readonly Xattr[] };

/**
 * An unchanged file whose every other stored field equals the parent's too, so the parent's row is
 * this file's entry as it would be sent (its attributes and holes come from the parent either way).
 * The owner names and the device can change with no change to the file (a renamed user, a device
 * numbered anew at boot). One link only: a later link to the same inode names its first path as its
 * target, and the server finds that target only among the entries it received.
 */
export function isCarriable(current: EntryMeta, parent: ParentFile): boolean {
  return current.nlink === 1 && parent.nlink === 1
    && current.uid === parent.uid && current.gid === parent.gid && current.user === parent.user && current.group === parent.group
    && current.device === parent.device;
}

/** The same rule as restic and burp: size, mtime, ctime, inode and mode all equal means unchanged. */
export function isUnchanged(current: EntryMeta, parent: ParentFile | undefined): boolean {
  return parent !== undefined
    && current.type === EntryType.ENTRY_TYPE_FILE && parent.type === EntryType.ENTRY_TYPE_FILE
    && current.size === parent.size
    && current.mtimeSec === parent.mtimeSec && current.mtimeNsec === parent.mtimeNsec
    && current.ctimeSec === parent.ctimeSec && current.ctimeNsec === parent.ctimeNsec
    && current.inode === parent.inode && current.mode === parent.mode;
}
