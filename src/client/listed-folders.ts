// A folder changed after the walk listed it: an entry renamed or moved into it from a place the walk
// had not reached yet would be in neither place in the backup (the walk found its old place without
// it), and a folder made private while its subtree was walked is recorded with its old mode. Each
// listed folder is kept with its names and their inode numbers, so that the walk's end can list a
// changed one again and walk what it did not hold before (second-look.ts). Named in a warning: a folder
// still changed after the last look, one where another entry took a name the walk had read (a path is
// sent once: what took it is not in the backup), an include's folder replaced. Not an unreadable
// entry (exit 3): what appeared after the last listing may as well be new, as in any backup of a live
// tree, and a busy folder would fail every night.
import { closeSync } from 'node:fs';
import { openFolderHandleAt, openRealPath, posixConstants, statAt, type FolderListing, type PosixStat } from './posix/at';
import { escapeBytes } from '../common/escape-bytes';

/** Folders named one by one in warnings; the rest are counted in one more. */
const NAMED_FOLDERS = 10;

/** Longest path handed to the kernel whole; a longer one is reached a folder at a time (PATH_MAX is 4096). */
const WHOLE_PATH_BYTES = 4000;

/**
 * Per folder: device, inode, mtime and ctime as listed, mode, uid and gid as recorded, flags (below),
 * where its names' inode numbers start in allInodes, and how many.
 */
const FIELDS = 10;

/** An include's own folder, whose parent is not listed. */
const INCLUDE_FLAG = 1n;
/**
 * Its mtime as listed was so close to the listing that an entry made or moved into it just after could
 * leave the same mtime (the kernel stamps folders from a coarse clock, a tick of 1-10 ms; FAT keeps
 * 2 s): listed again at the end whatever its mtime says (as git treats a "racily clean" index entry).
 */
const RACY_FLAG = 2n;

/**
 * How far before its listing a folder's mtime must be for a later change to show as another mtime: on
 * a file system that keeps nanoseconds, several of the kernel's clock ticks; on one whose times are
 * whole seconds (FAT's two, ext3's one), more than its step.
 */
const RACY_WINDOW_NS = 50_000_000n;
const RACY_WINDOW_WHOLE_SECONDS_NS = 3_000_000_000n;

/** Separates names in a folder's kept listing, as the listing gives them: no name holds a NUL. */
const NAME_SEPARATOR = '\0';

/** Names of one folder shown in its warning. */
const NAMED_NAMES = 3;

/**
 * Kept compactly, a path and its names each as one latin1 string (a small Buffer keeps its whole 8 KiB
 * pool slab alive) and the numbers in typed arrays: 80-130 bytes a folder, and 9 bytes more than its
 * names a name.
 */
export class ListedFolders {
  private readonly paths: string[] = [];
  /** Every name a listing of the folder held, joined by NAME_SEPARATOR: each was walked (or left out) once. */
  private readonly names: string[] = [];
  /** Each folder's names' inode numbers as the folder listed them, in the order of its names, one folder after another. */
  private allInodes = new BigUint64Array(16 * 1024);
  private inodesEnd = 0;
  /** Per folder index: names another entry took after the walk read them (latin1). */
  private readonly takenNames = new Map<number, Set<string>>();
  /**
   * Folders where a listing again gave a name another number on a file system whose numbers are not
   * stable (FAT): that says nothing of the name, so the folder is named as changed, as before the looks.
   */
  private readonly renumbered = new Set<number>();
  private numbers = new BigUint64Array(FIELDS * 1024);

  /**
   * recorded: the folder as the backup records it (its fstat when opened); listed: its fstat just before
   * its names were read, and listedAtMs the time (Date.now()) just before that fstat. isInclude: an
   * include's own folder, whose parent is not listed.
   */
  add(path: Buffer, recorded: PosixStat, listed: PosixStat, listedAtMs: number, isInclude: boolean, listing: FolderListing): void {
    const index = this.paths.length;
    if ((index + 1) * FIELDS > this.numbers.length) {
      const grown = new BigUint64Array(this.numbers.length * 2);
      grown.set(this.numbers);
      this.numbers = grown;
    }
    this.paths.push(path.toString('latin1'));
    this.names.push(listing.joinedNames);
    const fields = [listed.dev, listed.ino, listed.mtimeNs, listed.ctimeNs, recorded.mode, recorded.uid, recorded.gid, 0, 0, 0];
    this.numbers.set(fields.map((value) => BigInt.asUintN(64, BigInt(value))), index * FIELDS);
    this.numbers[index * FIELDS + 7] = (isInclude ? INCLUDE_FLAG : 0n) | racyFlag(listed, listedAtMs);
    this.keepInodes(index, [listing.inodes]);
  }

  /** Folders listed so far; one added later has a higher index. */
  get count(): number {
    return this.paths.length;
  }

  pathOf(index: number): Buffer {
    return Buffer.from(this.paths[index], 'latin1');
  }

  /**
   * Takes the folder's listing again (listed: its fstat just before the names were read, at listedAtMs;
   * listing: the names with their d_ino) and returns the names no earlier listing held, for the caller to walk:
   * each name is walked once however often it comes and goes. A name read before that another entry
   * took since (another inode) is kept for the warning: the backup holds what the name was. Undefined,
   * and nothing kept, when the folder opened is not the one listed.
   */
  relisted(index: number, listed: PosixStat, listedAtMs: number, listing: FolderListing, hasStableNumbers: boolean): Buffer[] | undefined {
    const fields = this.numbers.subarray(index * FIELDS, (index + 1) * FIELDS);
    if (asU64(listed.dev) !== fields[0] || asU64(listed.ino) !== fields[1]) return undefined;
    const kept = this.allInodes.subarray(Number(fields[8]), Number(fields[8] + fields[9]));
    const known = new Map<string, number>();
    if (this.names[index].length > 0) this.names[index].split(NAME_SEPARATOR).forEach((name, position) => known.set(name, position));
    const fresh: Buffer[] = [];
    const freshNames: string[] = [];
    const freshInodes: bigint[] = [];
    for (const [position, name] of listing.names.entries()) {
      const latin1 = name.toString('latin1');
      const at = known.get(latin1);
      if (at === undefined) {
        fresh.push(name);
        freshNames.push(latin1);
        freshInodes.push(listing.inodes[position]);
      } else if (kept[at] !== listing.inodes[position]) {
        kept[at] = listing.inodes[position];
        if (!hasStableNumbers) {
          this.renumbered.add(index);
          continue;
        }
        const taken = this.takenNames.get(index) ?? new Set<string>();
        taken.add(latin1);
        this.takenNames.set(index, taken);
      }
    }
    if (fresh.length > 0) {
      this.names[index] += (known.size > 0 ? NAME_SEPARATOR : '') + freshNames.join(NAME_SEPARATOR);
      // Copied to the end with the new ones: a folder's numbers stay in one stretch (the old one is left unused).
      this.keepInodes(index, [kept.slice(), BigUint64Array.from(freshInodes)]);
    }
    fields[2] = asU64(listed.mtimeNs);
    fields[3] = asU64(listed.ctimeNs);
    fields[7] = (fields[7] & ~RACY_FLAG) | racyFlag(listed, listedAtMs);
    return fresh;
  }

  /** Appends the folder's names' inode numbers to allInodes and points its fields at them. */
  private keepInodes(index: number, parts: readonly BigUint64Array[]): void {
    const length = parts.reduce((sum, part) => sum + part.length, 0);
    if (this.inodesEnd + length > this.allInodes.length) {
      const grown = new BigUint64Array(Math.max(this.allInodes.length * 2, this.inodesEnd + length));
      grown.set(this.allInodes.subarray(0, this.inodesEnd));
      this.allInodes = grown;
    }
    this.numbers[index * FIELDS + 8] = BigInt(this.inodesEnd);
    this.numbers[index * FIELDS + 9] = BigInt(length);
    for (const part of parts) {
      this.allInodes.set(part, this.inodesEnd);
      this.inodesEnd += part.length;
    }
  }

  /**
   * Looks at every folder listed: those to list again (the one listed, with entries created, removed or
   * renamed in it since: its mtime moved, or its ctime, which no one can set back as tar and rsync set
   * mtimes; or listed too soon after a change to tell), and the warnings of the rest, at most
   * NAMED_FOLDERS, then a count. isFinal: no more listings; each changed folder is named instead.
   * One lstat a folder: a walk that found nothing changed pays for one look, as before the looks.
   */
  scan(isFinal: boolean): { relist: number[]; warnings: string[] } {
    const relist: number[] = [];
    const warnings: string[] = [];
    let unnamed = 0;
    const longPaths = new LongPathReach();
    try {
      this.scanInto(isFinal, longPaths, relist, warnings, (count) => { unnamed += count; });
    } finally {
      longPaths.close();
    }
    if (unnamed > 0) warnings.push(`${unnamed} more folders changed after the backup listed them (as above)`);
    return { relist, warnings };
  }

  private scanInto(isFinal: boolean, longPaths: LongPathReach, relist: number[], warnings: string[], countUnnamed: (count: number) => void): void {
    for (const [index, latin1] of this.paths.entries()) {
      const path = Buffer.from(latin1, 'latin1');
      const fields = this.numbers.subarray(index * FIELDS, (index + 1) * FIELDS);
      const now = statIfReachable(path, longPaths);
      if (!isFinal && isToListAgain(fields, now)) {
        relist.push(index);
        continue;
      }
      const changes = [changeOf(fields, now), takenNamesChange(this.takenNames.get(index))].filter((change) => change !== undefined);
      if (changes.length === 0 && this.renumbered.has(index)) changes.push(FOLDER_CHANGED);
      if (changes.length === 0) continue;
      const change = changes.join('; and ');
      // Escaped only when named: a tree of 100,000 folders spent longer escaping than looking at them.
      if (warnings.length < NAMED_FOLDERS) warnings.push(`${escapeBytes(path)}: ${change}`);
      else countUnnamed(1);
    }
  }
}

/** The folder listed is the one there now, changed since or listed too soon after a change to tell. A removed or replaced one is not: its parent's listing tells of it. */
function isToListAgain(fields: BigUint64Array, now: PosixStat | undefined): boolean {
  return now !== undefined && asU64(now.dev) === fields[0] && asU64(now.ino) === fields[1]
    && (asU64(now.mtimeNs) !== fields[2] || asU64(now.ctimeNs) !== fields[3] || (fields[7] & RACY_FLAG) !== 0n);
}

const asU64 = (value: bigint | number): bigint => BigInt.asUintN(64, BigInt(value));

function racyFlag(listed: PosixStat, listedAtMs: number): bigint {
  const mtimeNs = BigInt(listed.mtimeNs);
  const window = mtimeNs % 1_000_000_000n === 0n ? RACY_WINDOW_WHOLE_SECONDS_NS : RACY_WINDOW_NS;
  return mtimeNs > BigInt(listedAtMs) * 1_000_000n - window ? RACY_FLAG : 0n;
}

const FOLDER_CHANGED = 'folder changed after the backup listed it (entries created, removed or renamed in it): '
  + 'an entry moved into it during the backup may be in neither its old nor its new place in this backup';

/** The warning for names another entry took after the walk read them, if any. */
function takenNamesChange(names: ReadonlySet<string> | undefined): string | undefined {
  if (names === undefined) return undefined;
  const taken = [...names].sort();
  const shown = taken.slice(0, NAMED_NAMES).map((name) => `"${escapeBytes(Buffer.from(name, 'latin1'))}"`).join(', ');
  const more = taken.length > NAMED_NAMES ? ` and ${taken.length - NAMED_NAMES} more` : '';
  return `${taken.length === 1 ? 'an entry' : `${taken.length} entries`} took a name the backup had read in this folder (${shown}${more}) `
    + 'during the backup: the backup holds what had the name when it was read (nothing, where that is reported as not in the backup), '
    + 'and what took it only where the walk read it '
    + 'before (an entry moved here from a folder not walked yet is in neither place)';
}

function changeOf(fields: BigUint64Array, now: PosixStat | undefined): string | undefined {
  const [dev, ino, mtimeNs, ctimeNs, mode, uid, gid, flags] = fields;
  if (now === undefined || asU64(now.dev) !== dev || asU64(now.ino) !== ino) {
    // Removed, or renamed (walked under its new name by its parent's look), or replaced: its parent's
    // listing names that; an include's parent is not listed.
    return (flags & INCLUDE_FLAG) !== 0n ? 'the include\'s folder was removed or replaced after the backup listed it: '
      + 'an entry moved within it during the backup may be in neither its old nor its new place in this backup' : undefined;
  }
  if (asU64(now.mtimeNs) !== mtimeNs) return FOLDER_CHANGED;
  if (asU64(now.mode) !== mode || asU64(now.uid) !== uid || asU64(now.gid) !== gid) {
    return `folder's mode or owner changed during the backup: stored as read, mode ${(Number(mode) & 0o7777).toString(8).padStart(4, '0')} `
      + `owner ${uid}:${gid}, now ${(now.mode & 0o7777).toString(8).padStart(4, '0')} ${now.uid}:${now.gid}`;
  }
  if (asU64(now.ctimeNs) !== ctimeNs) return 'folder\'s attributes changed after the backup listed it (stored as first read)';
  return undefined;
}

/** lstat of the path; undefined when it cannot be reached any more (removed, renamed, made unreachable). */
function statIfReachable(path: Buffer, longPaths: LongPathReach): PosixStat | undefined {
  try {
    if (path.length <= WHOLE_PATH_BYTES) return statAt(posixConstants().AT_FDCWD, path);
    const slash = path.lastIndexOf(0x2f);
    return statAt(longPaths.folderOf(path.subarray(0, slash)), path.subarray(slash + 1));
  } catch {
    return undefined;
  }
}

/**
 * Reaches the folders of paths longer than the kernel takes, during one scan, one folder at a time
 * without following a symlink (openRealPath): the last folder reached stays open, and a path below it
 * is reached from there. Each from "/", a tree 4,000 folders deep (8 KB paths) cost 6 million opens,
 * a scan of 20 s while nothing answered the server's pings, and at 8,000 the connection was dropped.
 */
class LongPathReach {
  private reached: { readonly path: Buffer; readonly fd: number } | undefined;

  /** An O_PATH handle on the folder at folderPath, valid until the next call or close(). */
  folderOf(folderPath: Buffer): number {
    const reached = this.reached;
    if (reached !== undefined && folderPath.equals(reached.path)) return reached.fd;
    const isBelow = reached !== undefined && folderPath.length > reached.path.length && folderPath[reached.path.length] === 0x2f
      && folderPath.subarray(0, reached.path.length).equals(reached.path);
    const fd = isBelow ? openBelow(reached.fd, folderPath.subarray(reached.path.length + 1)) : openRealPath(folderPath);
    this.close();
    this.reached = { path: Buffer.from(folderPath), fd };
    return fd;
  }

  close(): void {
    if (this.reached !== undefined) closeSync(this.reached.fd);
    this.reached = undefined;
  }
}

/** The folder at a relative path below a held folder, one folder at a time, never through a symlink; the held one stays open. */
function openBelow(folderFd: number, relative: Buffer): number {
  let fd = folderFd;
  try {
    for (let start = 0; start < relative.length;) {
      const slash = relative.indexOf(0x2f, start);
      const end = slash < 0 ? relative.length : slash;
      const next = openFolderHandleAt(fd, relative.subarray(start, end));
      if (fd !== folderFd) closeSync(fd);
      fd = next;
      start = end + 1;
    }
    return fd;
  } catch (error) {
    if (fd !== folderFd) closeSync(fd);
    throw error;
  }
}
