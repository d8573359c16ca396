// What differs between an entry already on disk and the backup's copy of it, besides its content.
// Same bytes with another mode, owner or mtime is not the backup's entry: the overwrite policy
// decides (and `never` reports it) instead of the restore passing it by as already there.
import type { EntryMeta } from '../proto/cpsbackup';
import type { PosixStat } from './posix/at';

export interface ComparedAttributes {
  /** Symlinks have no mode of their own on Linux. */
  readonly mode: boolean;
  /** The backup's owner as the restore would give it here; undefined where owners are not restored (no root). */
  readonly owner?: { readonly uid: number; readonly gid: number };
  /** A folder's mtime moves with every entry written into it, so it is not compared. */
  readonly mtime: boolean;
}

/** The attributes that differ, for a message ("mode 0644 where the backup has 0600"), or undefined when none does. */
export function metadataDifference(existing: PosixStat, meta: EntryMeta, compared: ComparedAttributes): string | undefined {
  const differences: string[] = [];
  if (compared.mode && (existing.mode & 0o7777) !== (meta.mode & 0o7777)) {
    differences.push(`mode ${octal(existing.mode)} where the backup has ${octal(meta.mode)}`);
  }
  const owner = compared.owner;
  if (owner !== undefined && (existing.uid !== owner.uid || existing.gid !== owner.gid)) {
    differences.push(`owner ${existing.uid}:${existing.gid} where the backup has ${owner.uid}:${owner.gid}`);
  }
  if (compared.mtime && !isSameTime(existing.mtimeNs, mtimeNsOf(meta))) {
    differences.push('modification time');
  }
  return differences.length === 0 ? undefined : differences.join(', ');
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
 * file systems) a second restore must not find every file changed for want of the nanoseconds.
 */
function isSameTime(existingNs: bigint, backupNs: bigint): boolean {
  if (existingNs === backupNs) return true;
  const gap = existingNs > backupNs ? existingNs - backupNs : backupNs - existingNs;
  return existingNs % NANOSECONDS === 0n && gap < COARSEST_TICK;
}

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}
