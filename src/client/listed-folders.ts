// A folder changed after the walk listed it: an entry renamed or moved into it from a place the walk
// had not reached yet is in neither place in the backup (the walk found its old place without it),
// and a folder made private while its subtree was walked is recorded with its old mode. Each listed
// folder is looked at again when the walk ends; one that changed since is named in a warning. Not an
// unreadable entry (exit 3): what appeared after the listing may as well be new, as in any backup of
// a live tree, and a busy folder would fail every night.
import { closeSync } from 'node:fs';
import { openFolderHandleAt, posixConstants, statAt, type PosixStat } from './posix/at';
import { escapeBytes } from '../common/escape-bytes';

/** Folders named one by one in warnings; the rest are counted in one more. */
const NAMED_FOLDERS = 10;

/** Longest path handed to the kernel whole; a longer one is reached a folder at a time (PATH_MAX is 4096). */
const WHOLE_PATH_BYTES = 4000;

/** Per folder: device, inode, mtime and ctime in nanoseconds. */
const FIELDS = 4;

/**
 * Kept compactly, a path as a latin1 string (a small Buffer keeps its whole 8 KiB pool slab alive) and
 * the numbers in one typed array: 45-100 bytes a folder (measured: 44 for 100,000 paths of 50 bytes).
 */
export class ListedFolders {
  private readonly paths: string[] = [];
  private numbers = new BigUint64Array(FIELDS * 1024);

  /** stats: the folder as recorded, from the fd its names were listed from. */
  add(path: Buffer, stats: PosixStat): void {
    const index = this.paths.length;
    if ((index + 1) * FIELDS > this.numbers.length) {
      const grown = new BigUint64Array(this.numbers.length * 2);
      grown.set(this.numbers);
      this.numbers = grown;
    }
    this.paths.push(path.toString('latin1'));
    this.numbers.set([stats.dev, stats.ino, stats.mtimeNs, stats.ctimeNs].map((value) => BigInt.asUintN(64, value)), index * FIELDS);
  }

  /** One warning per folder that changed since it was listed, at most NAMED_FOLDERS, then a count of the rest. */
  changeWarnings(): string[] {
    const warnings: string[] = [];
    let unnamed = 0;
    for (const [index, path] of this.paths.entries()) {
      const warning = changeOf(Buffer.from(path, 'latin1'), this.numbers.subarray(index * FIELDS, (index + 1) * FIELDS));
      if (warning === undefined) continue;
      if (warnings.length < NAMED_FOLDERS) warnings.push(warning);
      else unnamed++;
    }
    if (unnamed > 0) warnings.push(`${unnamed} more folders changed after the backup listed them (as above)`);
    return warnings;
  }
}

function changeOf(path: Buffer, listed: BigUint64Array): string | undefined {
  const [dev, ino, mtimeNs, ctimeNs] = listed;
  const now = statIfReachable(path);
  // Gone or another folder now: it was renamed or removed, which changed its parent, named there.
  if (now === undefined || BigInt.asUintN(64, now.dev) !== dev || BigInt.asUintN(64, now.ino) !== ino) return undefined;
  const shown = escapeBytes(path);
  if (BigInt.asUintN(64, now.mtimeNs) !== mtimeNs) {
    return `${shown}: folder changed after the backup listed it (entries created, removed or renamed in it): `
      + 'an entry moved into it during the backup is in neither its old nor its new place in this backup';
  }
  if (BigInt.asUintN(64, now.ctimeNs) !== ctimeNs) return `${shown}: folder's mode, owner or attributes changed during the backup (stored as first read)`;
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

/** A path longer than the kernel takes, reached from "/" one folder at a time. */
function statByFolders(path: Buffer): PosixStat {
  const names: Buffer[] = [];
  let start = 1;
  for (let slash = path.indexOf(0x2f, start); slash >= 0; slash = path.indexOf(0x2f, start)) {
    if (slash > start) names.push(path.subarray(start, slash));
    start = slash + 1;
  }
  const last = path.subarray(start);
  let fd = openFolderHandleAt(posixConstants().AT_FDCWD, '/');
  try {
    for (const name of names) {
      const next = openFolderHandleAt(fd, name);
      closeSync(fd);
      fd = next;
    }
    return statAt(fd, last);
  } finally {
    closeSync(fd);
  }
}
