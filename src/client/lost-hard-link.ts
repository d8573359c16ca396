// The warning for a later hard link sent on its own because its inode changed after its first path was
// sent: both paths come back with the content each was read with, but no longer linked to each other.
//
// A warning (exit 0, and in the backup's record), not an incomplete backup (exit 3): nothing asked for
// is missing, and exit 3, listed as "not saved in it", says files are, on every restore of it too. It
// is the same loss as a file changed while being read (stored as read, with a warning): the backup is
// no snapshot of a tree changing under it. And a busy log file with a second link would make every
// backup exit 3, teaching operators to let pass the one code that says files are missing.
import { escapeBytes } from '../common/escape-bytes';
import { posixConstants, statAtIfExists, type PosixStat } from './posix/at';

/**
 * The warning for `laterPath`, of the inode walked as `stats`, not linked to `firstPath`; undefined when
 * the first path names no longer that inode: then the inode number was given to another file (cp -al,
 * rsnapshot's rotation), or the first path was renamed or removed, and no link between the two is lost.
 * Only when it cannot be told (a path past PATH_MAX, a folder not searchable) is a loss assumed.
 */
export function lostHardLinkWarning(laterPath: Buffer, firstPath: Buffer, stats: PosixStat): string | undefined {
  if (!namesInode(firstPath, stats)) return undefined;
  return `${escapeBytes(laterPath)} was not kept as a hard link of ${escapeBytes(firstPath)}: the file changed during the backup `
    + '(each path stored as it was read)';
}

function namesInode(path: Buffer, stats: PosixStat): boolean {
  let now: PosixStat | undefined;
  try {
    now = statAtIfExists(posixConstants().AT_FDCWD, path);
  } catch {
    return true; // cannot be told: a loss is assumed, and said
  }
  return now !== undefined && now.ino === stats.ino && now.dev === stats.dev;
}
