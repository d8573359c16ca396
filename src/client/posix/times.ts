// Access and modification times to the nanosecond (Node 20's utimes rounds through a double and
// cannot skip following a symlink). Times are BigInt nanoseconds since the epoch, handed to the addon
// as (seconds, nanoseconds) pairs: as one int64 count they ended at 2262-04-11.
import { posixAddon } from './addon';

export interface EntryTimes {
  /** Omitted: left as it is (UTIME_OMIT). */
  readonly atimeNs?: bigint;
  readonly mtimeNs?: bigint;
}

const NANOSECONDS_PER_SECOND = 1_000_000_000n;

/** seconds + nanoseconds (0 ≤ nanoseconds < 1e9, seconds may be negative) → BigInt nanoseconds. */
export function toNanoseconds(seconds: number | bigint, nanoseconds: number): bigint {
  if (!Number.isInteger(nanoseconds) || nanoseconds < 0 || nanoseconds >= 1e9) {
    throw new RangeError(`nanoseconds must be an integer in [0, 1e9), got ${nanoseconds}`);
  }
  return BigInt(seconds) * NANOSECONDS_PER_SECOND + BigInt(nanoseconds);
}

/** BigInt nanoseconds → whole seconds (floored) and the non-negative remainder. */
export function splitNanoseconds(timeNs: bigint): { seconds: bigint; nanoseconds: number } {
  let seconds = timeNs / NANOSECONDS_PER_SECOND;
  let remainder = timeNs % NANOSECONDS_PER_SECOND;
  if (remainder < 0n) {
    remainder += NANOSECONDS_PER_SECOND;
    seconds -= 1n;
  }
  return { seconds, nanoseconds: Number(remainder) };
}

/** Sets times of dirfd/name; a symlink there gets its own times (AT_SYMLINK_NOFOLLOW), never its target's. */
export function setTimesAt(dirfd: number, name: Buffer | string, times: EntryTimes): void {
  const addon = posixAddon();
  const atime = timespecOf(times.atimeNs);
  const mtime = timespecOf(times.mtimeNs);
  addon.utimensat(dirfd, name, atime.seconds, atime.nanoseconds, mtime.seconds, mtime.nanoseconds, addon.constants.AT_SYMLINK_NOFOLLOW);
}

/** Times of an O_PATH handle's inode (futimens refuses O_PATH): through its /proc link, a symlink's own times too. */
export function setTimesHandle(handle: number, times: EntryTimes): void {
  const addon = posixAddon();
  const atime = timespecOf(times.atimeNs);
  const mtime = timespecOf(times.mtimeNs);
  addon.utimensat(addon.constants.AT_FDCWD, `/proc/self/fd/${handle}`, atime.seconds, atime.nanoseconds, mtime.seconds, mtime.nanoseconds, 0);
}

export function setTimesFd(fd: number, times: EntryTimes): void {
  const atime = timespecOf(times.atimeNs);
  const mtime = timespecOf(times.mtimeNs);
  posixAddon().futimens(fd, atime.seconds, atime.nanoseconds, mtime.seconds, mtime.nanoseconds);
}

/** The addon's pair for a time; null seconds leave it unchanged. */
function timespecOf(timeNs: bigint | undefined): { seconds: bigint | null; nanoseconds: number } {
  return timeNs === undefined ? { seconds: null, nanoseconds: 0 } : splitNanoseconds(timeNs);
}
