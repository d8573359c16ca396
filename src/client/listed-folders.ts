// A folder changed after the walk listed it: an entry renamed or moved into it from a place the walk
// had not reached yet is in neither place in the backup (the walk found its old place without it),
// and a folder made private while its subtree was walked is recorded with its old mode. Each listed
// folder is looked at again when the walk ends; one that changed since is named in a warning. Not an
// unreadable entry (exit 3): what appeared after the listing may as well be new, as in any backup of
// a live tree, and a busy folder would fail every night.
import { closeSync } from 'node:fs';
import { openRealPath, posixConstants, statAt, type PosixStat } from './posix/at';
import { escapeBytes } from '../common/escape-bytes';

/** Folders named one by one in warnings; the rest are counted in one more. */
const NAMED_FOLDERS = 10;

/** Longest path handed to the kernel whole; a longer one is reached a folder at a time (PATH_MAX is 4096). */
const WHOLE_PATH_BYTES = 4000;

/** Per folder: device, inode, mtime and ctime as listed, mode, uid and gid as recorded, whether it is an include's. */
const FIELDS = 8;

/**
 * Kept compactly, a path as a latin1 string (a small Buffer keeps its whole 8 KiB pool slab alive) and
 * the numbers in one typed array: 80-130 bytes a folder.
 */
export class ListedFolders {
  private readonly paths: string[] = [];
  private numbers = new BigUint64Array(FIELDS * 1024);

  /**
   * recorded: the folder as the backup records it (its fstat when opened); listed: its fstat just before
   * its names were read. isInclude: an include's own folder, whose parent is not listed.
   */
  add(path: Buffer, recorded: PosixStat, listed: PosixStat, isInclude: boolean): void {
    const index = this.paths.length;
    if ((index + 1) * FIELDS > this.numbers.length) {
      const grown = new BigUint64Array(this.numbers.length * 2);
      grown.set(this.numbers);
      this.numbers = grown;
    }
    this.paths.push(path.toString('latin1'));
    const fields = [listed.dev, listed.ino, listed.mtimeNs, listed.ctimeNs, recorded.mode, recorded.uid, recorded.gid, isInclude ? 1 : 0];
    this.numbers.set(fields.map((value) => BigInt.asUintN(64, BigInt(value))), index * FIELDS);
  }

  /** One warning per folder that changed since it was listed, at most NAMED_FOLDERS, then a count of the rest. */
  changeWarnings(): string[] {
    const warnings: string[] = [];
    let unnamed = 0;
    for (const [index, latin1] of this.paths.entries()) {
      const path = Buffer.from(latin1, 'latin1');
      const change = changeOf(path, this.numbers.subarray(index * FIELDS, (index + 1) * FIELDS));
      if (change === undefined) continue;
      // Escaped only when named: a tree of 100,000 folders spent longer escaping than looking at them.
      if (warnings.length < NAMED_FOLDERS) warnings.push(`${escapeBytes(path)}: ${change}`);
      else unnamed++;
    }
    if (unnamed > 0) warnings.push(`${unnamed} more folders changed after the backup listed them (as above)`);
    return warnings;
  }
}

const asU64 = (value: bigint | number): bigint => BigInt.asUintN(64, BigInt(value));

function changeOf(path: Buffer, fields: BigUint64Array): string | undefined {
  const [dev, ino, mtimeNs, ctimeNs, mode, uid, gid, isInclude] = fields;
  const now = statIfReachable(path);
  if (now === undefined || asU64(now.dev) !== dev || asU64(now.ino) !== ino) {
    // Renamed or removed, which changed its parent, named there; an include's parent is not listed.
    return isInclude === 1n ? 'the include\'s folder was removed or replaced after the backup listed it: '
      + 'an entry moved within it during the backup may be in neither its old nor its new place in this backup' : undefined;
  }
  if (asU64(now.mtimeNs) !== mtimeNs) {
    return 'folder changed after the backup listed it (entries created, removed or renamed in it): '
      + 'an entry moved into it during the backup may be in neither its old nor its new place in this backup';
  }
  if (asU64(now.mode) !== mode || asU64(now.uid) !== uid || asU64(now.gid) !== gid) {
    return `folder's mode or owner changed during the backup: stored as read, mode ${(Number(mode) & 0o7777).toString(8).padStart(4, '0')} `
      + `owner ${uid}:${gid}, now ${(now.mode & 0o7777).toString(8).padStart(4, '0')} ${now.uid}:${now.gid}`;
  }
  if (asU64(now.ctimeNs) !== ctimeNs) return 'folder\'s attributes changed after the backup listed it (stored as first read)';
  return undefined;
}

/** lstat of the path; undefined when it cannot be reached any more (removed, renamed, made unreachable). */
function statIfReachable(path: Buffer): PosixStat | undefined {
  try {
    if (path.length <= WHOLE_PATH_BYTES) return statAt(posixConstants().AT_FDCWD, path);
    return statByFolders(path);
  } catch {
    return undefined;
  }
}

/** A path longer than the kernel takes: its folder reached from "/" one folder at a time (openRealPath). */
function statByFolders(path: Buffer): PosixStat {
  const slash = path.lastIndexOf(0x2f);
  const folderFd = openRealPath(path.subarray(0, slash));
  try {
    return statAt(folderFd, path.subarray(slash + 1));
  } finally {
    closeSync(folderFd);
  }
}
