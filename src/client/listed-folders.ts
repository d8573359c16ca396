// A folder changed after the walk listed it: an entry renamed or moved into it from a place the walk
// had not reached yet would be in neither place in the backup (the walk found its old place without
// it), and a folder made private while its subtree was walked is recorded with its old mode. Each
// listed folder is kept with its names, so that the walk's end can list a changed one again and walk
// what it did not hold before (second-look.ts). One still changed after the last look, or replaced by
// another folder, is named in a warning. Not an unreadable entry (exit 3): what appeared after the
// last listing may as well be new, as in any backup of a live tree, and a busy folder would fail
// every night.
import { closeSync } from 'node:fs';
import { entryKind, openRealPath, posixConstants, statAt, type PosixStat } from './posix/at';
import { escapeBytes } from '../common/escape-bytes';

/** Folders named one by one in warnings; the rest are counted in one more. */
const NAMED_FOLDERS = 10;

/** Longest path handed to the kernel whole; a longer one is reached a folder at a time (PATH_MAX is 4096). */
const WHOLE_PATH_BYTES = 4000;

/** Per folder: device, inode, mtime and ctime as listed, mode, uid and gid as recorded, flags (below). */
const FIELDS = 8;

/** An include's own folder, whose parent is not listed. */
const INCLUDE_FLAG = 1n;
/**
 * Its mtime as listed was so close to the listing that an entry made or moved into it just after could
 * leave the same mtime (the kernel stamps folders from a coarse clock, a tick of 1-10 ms): listed
 * again at the end whatever its mtime says (as git treats a "racily clean" index entry).
 */
const RACY_FLAG = 2n;

/** How far before its listing a folder's mtime must be for a later change to show as another mtime: many ticks, and a clock's slew. */
const RACY_WINDOW_NS = 1_000_000_000n;

/** Separates names in a folder's kept listing: no name holds a "/". */
const NAME_SEPARATOR = '/';

/**
 * Kept compactly, a path and its names each as one latin1 string (a small Buffer keeps its whole 8 KiB
 * pool slab alive) and the numbers in one typed array: 80-130 bytes a folder, and a byte more than its
 * names a name.
 */
export class ListedFolders {
  private readonly paths: string[] = [];
  /** Every name a listing of the folder held, joined by NAME_SEPARATOR: each was walked (or left out) once. */
  private readonly names: string[] = [];
  private numbers = new BigUint64Array(FIELDS * 1024);

  /**
   * recorded: the folder as the backup records it (its fstat when opened); listed: its fstat just before
   * its names were read, and listedAtMs the time (Date.now()) just before that fstat. isInclude: an
   * include's own folder, whose parent is not listed.
   */
  add(path: Buffer, recorded: PosixStat, listed: PosixStat, listedAtMs: number, isInclude: boolean, names: readonly Buffer[]): void {
    const index = this.paths.length;
    if ((index + 1) * FIELDS > this.numbers.length) {
      const grown = new BigUint64Array(this.numbers.length * 2);
      grown.set(this.numbers);
      this.numbers = grown;
    }
    this.paths.push(path.toString('latin1'));
    this.names.push(names.map((name) => name.toString('latin1')).join(NAME_SEPARATOR));
    const fields = [listed.dev, listed.ino, listed.mtimeNs, listed.ctimeNs, recorded.mode, recorded.uid, recorded.gid, 0];
    this.numbers.set(fields.map((value) => BigInt.asUintN(64, BigInt(value))), index * FIELDS);
    this.numbers[index * FIELDS + 7] = (isInclude ? INCLUDE_FLAG : 0n) | racyFlag(listed, listedAtMs);
  }

  /** Folders listed so far; one added later has a higher index. */
  get count(): number {
    return this.paths.length;
  }

  pathOf(index: number): Buffer {
    return Buffer.from(this.paths[index], 'latin1');
  }

  /**
   * Whether the folder at the index is the one listed, with entries created, removed or renamed in it
   * since (its mtime moved), or listed too soon after a change to tell: one to list again. A folder
   * removed or replaced is not (see changeOf).
   */
  hasNewListing(index: number): boolean {
    const fields = this.numbers.subarray(index * FIELDS, (index + 1) * FIELDS);
    const now = statIfReachable(this.pathOf(index));
    return now !== undefined && asU64(now.dev) === fields[0] && asU64(now.ino) === fields[1]
      && (asU64(now.mtimeNs) !== fields[2] || (fields[7] & RACY_FLAG) !== 0n);
  }

  /**
   * Takes the folder's listing again (listed: its fstat just before the names were read, at listedAtMs) and returns
   * the names no earlier listing held, for the caller to walk: each name is walked once however often
   * it comes and goes. Undefined, and nothing kept, when the folder opened is not the one listed.
   */
  relisted(index: number, listed: PosixStat, listedAtMs: number, names: readonly Buffer[]): Buffer[] | undefined {
    const fields = this.numbers.subarray(index * FIELDS, (index + 1) * FIELDS);
    if (asU64(listed.dev) !== fields[0] || asU64(listed.ino) !== fields[1]) return undefined;
    const known = new Set(this.names[index].length === 0 ? [] : this.names[index].split(NAME_SEPARATOR));
    const fresh = names.filter((name) => !known.has(name.toString('latin1')));
    if (fresh.length > 0) this.names[index] += (known.size > 0 ? NAME_SEPARATOR : '') + fresh.map((name) => name.toString('latin1')).join(NAME_SEPARATOR);
    fields[2] = asU64(listed.mtimeNs);
    fields[3] = asU64(listed.ctimeNs);
    fields[7] = (fields[7] & ~RACY_FLAG) | racyFlag(listed, listedAtMs);
    return fresh;
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

function racyFlag(listed: PosixStat, listedAtMs: number): bigint {
  return BigInt(listed.mtimeNs) > BigInt(listedAtMs) * 1_000_000n - RACY_WINDOW_NS ? RACY_FLAG : 0n;
}

function changeOf(path: Buffer, fields: BigUint64Array): string | undefined {
  const [dev, ino, mtimeNs, ctimeNs, mode, uid, gid, flags] = fields;
  const now = statIfReachable(path);
  if (now === undefined || asU64(now.dev) !== dev || asU64(now.ino) !== ino) {
    if ((flags & INCLUDE_FLAG) !== 0n) {
      return 'the include\'s folder was removed or replaced after the backup listed it: '
        + 'an entry moved within it during the backup may be in neither its old nor its new place in this backup';
    }
    // Removed, or renamed (walked again under its new name by its parent's second look, or it left the
    // includes): nothing in it is lost to the backup. Another folder in its place is not listed again:
    // the backup holds the first one's entries under those names.
    return now === undefined || entryKind(now.mode) !== 'folder' ? undefined
      : 'replaced by another folder after the backup listed it: its entries are in this backup as the first one held them, '
        + 'and an entry moved into the new one during the backup may be in neither its old nor its new place in this backup';
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
