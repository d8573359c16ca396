// What differs between an entry already on disk and the backup's copy of it, besides its content.
// Same bytes with another mode, owner, mtime, ACL or extended attribute is not the backup's entry:
// the overwrite policy decides (and `never` reports it) instead of the restore passing it by as
// already there.
import type { EntryMeta } from '../proto/cpsbackup';
import type { PosixStat } from './posix/at';
import type { Xattr } from './posix/xattrs';
import { escapeBytes } from '../common/escape-bytes';
import { KEPT_INODE_FLAGS, inodeFlagLetters } from './posix/inode-flags';

export interface ComparedAttributes {
  /** Symlinks have no mode of their own on Linux. */
  readonly mode: boolean;
  /**
   * The mode the backup has, where the restore gives another (meta's: set-ID bits cleared without root):
   * named in the message, which said "where the backup has 0755" of a backup holding 2755.
   */
  readonly modeInBackup?: number;
  /** The backup's owner as the restore would give it here; undefined where owners are not restored (no root). */
  readonly owner?: { readonly uid: number; readonly gid: number };
  /** A folder's mtime moves with every entry written into it, so it is not compared. */
  readonly mtime: boolean;
  /**
   * The attributes on disk and the ones the restore gives (see restoredXattrs), read only when the
   * rest is equal: a listing is a system call or more per entry.
   */
  readonly xattrs?: { readonly existing: () => readonly Xattr[]; readonly given: readonly Xattr[]; readonly isRoot: boolean };
  /**
   * The kept inode flags on disk and the backup's, read only when the rest is equal (an open per entry),
   * and only where the backup knows them (a restore then sets exactly those, clearing what a new entry
   * took from its folder); unknown ones (a backup from before they were kept) are neither set nor compared.
   */
  readonly inodeFlags?: { readonly existing: () => number };
}

/** The attributes that differ, for a message ("mode 0644 where the backup has 0600"), or undefined when none does. */
export function metadataDifference(existing: PosixStat, meta: EntryMeta, compared: ComparedAttributes): string | undefined {
  const differences: string[] = [];
  if (compared.mode && (existing.mode & 0o7777) !== (meta.mode & 0o7777)) {
    const inBackup = compared.modeInBackup;
    differences.push(inBackup === undefined || (inBackup & 0o7777) === (meta.mode & 0o7777)
      ? `mode ${octal(existing.mode)} where the backup has ${octal(meta.mode)}`
      : `mode ${octal(existing.mode)} where the backup has ${octal(inBackup)}, which a restore without root gives as ${octal(meta.mode)}`);
  }
  const owner = compared.owner;
  if (owner !== undefined && (existing.uid !== owner.uid || existing.gid !== owner.gid)) {
    differences.push(`owner ${existing.uid}:${existing.gid} where the backup has ${owner.uid}:${owner.gid}`);
  }
  if (compared.mtime && !isSameTime(existing.mtimeNs, mtimeNsOf(meta))) {
    differences.push('modification time');
  }
  if (differences.length === 0 && compared.xattrs !== undefined) {
    const { existing, given, isRoot } = compared.xattrs;
    differences.push(...xattrDifferences(existing(), given, isRoot));
  }
  // Only the kept ones: a server's entry may carry others, which no restore sets.
  const inBackup = meta.inodeFlags & KEPT_INODE_FLAGS;
  if (differences.length === 0 && compared.inodeFlags !== undefined && meta.inodeFlagsKnown) {
    const flags = compared.inodeFlags.existing();
    if (flags !== inBackup) {
      differences.push(`inode flags "${inodeFlagLetters(flags)}" where the backup has "${inodeFlagLetters(inBackup)}"`);
    }
  }
  return differences.length === 0 ? undefined : differences.join(', ');
}

/**
 * Labels a security module or the kernel gives each entry on the target: SELinux, Smack and AppArmor
 * labels by the target's policy, IMA's hash and EVM's HMAC (a key of the machine's own). A backup
 * from another machine, or none, would otherwise make every entry differ; they are neither compared
 * nor removed (a new file still gets the backup's).
 */
function isGivenByTarget(name: string): boolean {
  return name === 'security.selinux' || name === 'security.apparmor' || name === 'security.ima' || name === 'security.evm'
    || name.startsWith('security.SMACK64');
}

/**
 * Whether an attribute is one the restore makes the backup's, compared on both sides and removed
 * from a folder --overwrite replaces: without root only user.* and the ACLs can be set at all; with
 * root also trusted.* and security.* but those the target gives (isGivenByTarget). A capability
 * (security.capability) is compared: it grants privileges. Other system.* names (an NFSv4 ACL) are
 * the file system's own.
 */
export function isRestoredXattr(name: Buffer, isRoot: boolean): boolean {
  const text = name.toString('latin1');
  if (text.startsWith('user.') || text.startsWith('system.posix_acl_')) return true;
  return isRoot && (text.startsWith('trusted.') || (text.startsWith('security.') && !isGivenByTarget(text)));
}

/** Each compared attribute that differs, named: one on disk the backup lacks, one the backup has that is missing or holds another value. */
function xattrDifferences(existing: readonly Xattr[], given: readonly Xattr[], isRoot: boolean): string[] {
  const isCompared = (xattr: Xattr): boolean => isRestoredXattr(xattr.name, isRoot);
  const givenByName = new Map(given.filter(isCompared).map((xattr) => [xattr.name.toString('latin1'), xattr]));
  const differences: string[] = [];
  for (const xattr of existing.filter(isCompared)) {
    const key = xattr.name.toString('latin1');
    const backups = givenByName.get(key);
    givenByName.delete(key);
    if (backups === undefined) differences.push(`${attributeName(xattr.name)} is not in the backup`);
    else if (!backups.value.equals(xattr.value)) differences.push(`${attributeName(xattr.name)} has another value`);
  }
  for (const missing of givenByName.values()) differences.push(`${attributeName(missing.name)} is missing`);
  return differences;
}

function attributeName(name: Buffer): string {
  const text = name.toString('latin1');
  if (text === 'system.posix_acl_access') return 'ACL';
  if (text === 'system.posix_acl_default') return 'default ACL';
  return `extended attribute ${escapeBytes(name)}`;
}

const NANOSECONDS = 1_000_000_000n;

/** The backup's mtime of an entry, in nanoseconds as a stat gives it. */
export function mtimeNsOf(meta: EntryMeta): bigint {
  return BigInt(meta.mtimeSec) * NANOSECONDS + BigInt(meta.mtimeNsec);
}

/** FAT keeps modification times to 2 s. */
const COARSEST_TICK = 2n * NANOSECONDS;

/**
 * The same time as far as the target can keep one: where it holds whole seconds (FAT, some network
 * file systems) a second restore must not find every file changed for want of the nanoseconds. Such a
 * file system cuts a time down to its tick (the kernel's timestamp_truncate: to the second, or to FAT's
 * even second), so only those two cuts of the backup's time count: any whole second within 2 s passed
 * as the same, also on ext4, and a file touched to another second kept its wrong mtime with exit 0.
 */
function isSameTime(existingNs: bigint, backupNs: bigint): boolean {
  if (existingNs === backupNs) return true;
  return existingNs === cutDown(backupNs, NANOSECONDS) || existingNs === cutDown(backupNs, COARSEST_TICK);
}

/** time cut down to a multiple of tick, before 1970 too (BigInt's % keeps the sign of the time). */
function cutDown(time: bigint, tick: bigint): bigint {
  return time - (((time % tick) + tick) % tick);
}

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}
