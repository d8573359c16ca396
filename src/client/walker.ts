// Walks the include folders depth-first in byte order of names, applying exclude_regex to full
// paths, through held folder fds (openat, never following a symlink): names are bytes, paths may be
// longer than PATH_MAX (up to the protocol's limit; a longer one is reported), and a folder swapped
// for a symlink mid-walk is not followed. Every entry kind is yielded; what cannot be read is
// reported, never skipped silently. A synchronous generator: the caller awaits between entries, and
// an async one cost a promise per entry at each folder level (a fifth of the walk's time on 20,000
// files).
import { closeSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { realpathSync } from 'node:fs';
import { operatorRealPath, PlantableSymlinkError } from './posix/operator-real-path';
import { EntryType, type EntryMeta } from '../proto/cpsbackup';
import { entryKind, fileSystemTypeOf, openFolderAt, openHandleAt, openKeepingAtimeAt, openRealPath, posixConstants, readFolderInodesAt, readlinkAt, statAt, statFd, type FolderListing, type Name, type PosixStat } from './posix/at';
import { readXattrs, type Xattr } from './posix/xattrs';
import { readInodeFlags } from './posix/inode-flags';
import { OwnerNames } from './posix/owners';
import { hasCurrentAclNames, withAclNames } from './posix/acl-names';
import { entryMetaFromStat, entryTypeOf } from './entry-meta';
import { openedFile } from './replaced-file';
import { ListedFolders } from './listed-folders';
import { MovedEntries } from './moved-entries';
import { secondLooks, type SecondLookFindings } from './second-look';
import { escapeBytes } from '../common/escape-bytes';
import { entryPathProblem } from '../common/entry-path';
import { ownFolderHolding } from './own-folders';
import type { ExcludedMark } from './excluded-paths';

/** An entry read by name that is no longer the one walked: its message says how; the entry is not in the backup. */
export class EntryChangedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EntryChangedError';
  }
}

/** The entry read by name is gone: reported through WalkedEntry.reportVanished. */
export class EntryVanishedError extends EntryChangedError {
  constructor() {
    super('vanished during the backup');
    this.name = 'EntryVanishedError';
  }
}

export interface WalkedAttributes {
  readonly meta: EntryMeta;
  readonly xattrs: Xattr[];
  /** Kept inode flags (posix/inode-flags.ts), read from a folder's fd; 0 for an entry read by name (never through a name). */
  readonly inodeFlags: number;
  /** inodeFlags were read (a folder read through its fd). */
  readonly inodeFlagsKnown: boolean;
  /** The entry changed between the walk's lstat and this read: meta is from a later lstat. */
  readonly hasChanged: boolean;
}

/**
 * One entry the walk reached, usable until the walk moves on (a folder's fd is closed then, and its
 * number soon given to another open). A class, not an object of closures: a walk makes one per entry,
 * and their four closures each were 14 of the 122 MB a no-change backup of 20,572 files allocated.
 */
export class WalkedEntry {
  readonly meta: EntryMeta;

  constructor(
    private readonly parentFd: number,
    private readonly name: Name,
    private readonly type: EntryType,
    readonly stats: PosixStat,
    private readonly owners: OwnerNames,
    private readonly linkTarget: Buffer | undefined,
    path: Buffer,
    private readonly moved: MovedEntries,
    /** The walk's step that reached it (MovedEntries), and a time before its lstat. */
    private readonly step: number,
    private readonly statedAfterMs: number,
    /** A folder's fd its content is listed from: its xattrs are read there, not by name. */
    private readonly folderFd?: number,
  ) {
    this.meta = entryMetaFromStat(path, type, stats, owners, linkTarget);
  }

  /**
   * The entry's extended attributes and ACLs, read now (never through a symlink), with its metadata as
   * of that read. An entry with no fd (a symlink, device, socket, FIFO not read, or a folder that cannot
   * be opened) is read through an O_PATH handle opened by name: the name may have gone to another entry
   * since the walk's lstat (or its link target read), so the handle must hold the inode walked, else
   * EntryChangedError. Every attribute call then reaches that inode alone: read by name, a swap and a
   * swap back between the calls recorded another file's attributes with this one's owner, mode, times
   * and target. The same inode changed since (a FIFO written to, a chmod) is recorded as the handle's
   * fstat after the read finds it: hasChanged; but not a symlink (see below).
   */
  readAttributes(): WalkedAttributes {
    if (this.folderFd !== undefined) {
      return { meta: this.meta, xattrs: this.withAclNames(readXattrs({ fd: this.folderFd })), inodeFlags: readInodeFlags(this.folderFd), inodeFlagsKnown: true, hasChanged: false };
    }
    let handle: number;
    try {
      handle = openHandleAt(this.parentFd, this.name);
    } catch (error) {
      if (describe(error) === 'ENOENT') throw new EntryVanishedError();
      throw error;
    }
    try {
      if (!this.isWalkedInode(statFd(handle))) throw new EntryChangedError('replaced by another entry while it was read; not in this backup');
      const xattrs = this.withAclNames(readXattrs({ handle }));
      const now = statFd(handle);
      if (now.ctimeNs === this.stats.ctimeNs) return { meta: this.meta, xattrs, inodeFlags: 0, inodeFlagsKnown: false, hasChanged: false };
      // A symlink is never written to: a new ctime may be a new link that got the freed inode number
      // between the walk's lstat and the handle's open, and its target (read at the walk) could be the old one's.
      if (this.type === EntryType.ENTRY_TYPE_SYMLINK) throw new EntryChangedError('changed while it was read; not in this backup');
      return { meta: this.metaFrom(now), xattrs, inodeFlags: 0, inodeFlagsKnown: false, hasChanged: true };
    } finally {
      closeSync(handle);
    }
  }

  /** The statfs type of the file system its folder is on (a file is on its folder's, but for a file bind-mounted there). */
  folderFileSystemType(): number {
    return fileSystemTypeOf(this.folderFd ?? this.parentFd);
  }

  /** Not restore-tree's isSameInode: a backup loads no restore code (import-scan test). */
  private isWalkedInode(stats: PosixStat): boolean {
    return stats.ino === this.stats.ino && stats.dev === this.stats.dev;
  }

  /**
   * Opens a file (or, with read_all_fifos, a FIFO) for reading, non-blocking: the name may have been
   * given to a FIFO since the walk's lstat, whose open would otherwise wait for a writer for ever (a
   * regular file's reads ignore the flag). Valid until the walk moves on.
   */
  open(): number {
    const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK, O_NOCTTY } = posixConstants();
    const euid = process.geteuid?.();
    // Its atime kept where the kernel allows it (the owner, root): a backup reads, it does not mark read.
    return openKeepingAtimeAt(this.parentFd, this.name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK, euid === 0 || euid === this.stats.uid);
  }

  /**
   * The entry was gone when read by name after the walk's lstat: reported as vanished when the walk
   * ends, unless the same file was walked in another place since (moved-entries.ts).
   */
  reportVanished(): void {
    this.moved.nameVanished(this.meta.path, this.stats.dev, this.stats.ino, this.statedAfterMs, this.step);
  }

  /**
   * This entry is in the backup as the inode the walk found: its content was read from fd (opened from
   * it, not replaced), or its attributes by name and checked. A file moved here is then not reported as
   * vanished from where the walk listed it before (moved-entries.ts).
   */
  noteRead(fd?: number): void {
    if (this.folderFd !== undefined) this.moved.read(this.folderFd, '', this.stats, this.step);
    else if (fd !== undefined) this.moved.read(fd, '', this.stats, this.step);
    else this.moved.read(this.parentFd, this.name, this.stats, this.step);
  }

  /** Attributes read from this entry, with the names of the users and groups its ACLs name (acl-names.ts). */
  withAclNames(xattrs: Xattr[]): Xattr[] {
    return withAclNames(xattrs, this.owners);
  }

  /** Whether ACLs stored with names (the parent backup's of this file) name their ids as this machine does now (acl-names.ts). */
  hasCurrentAclNames(stored: readonly Xattr[]): boolean {
    return hasCurrentAclNames(stored, this.owners);
  }

  /** This entry's metadata as another stat of the same name gives it (the inode opened, when it is not the one walked). */
  metaFrom(stats: PosixStat): EntryMeta {
    return entryMetaFromStat(this.meta.path, this.type, stats, this.owners, this.linkTarget);
  }
}

export interface WalkOptions {
  readonly includes: readonly string[];
  readonly excludeRegex: readonly RegExp[];
  readonly readAllFifos: boolean;
  /** Folders never walked (the work directory's own folders, own-folders.ts): silently below an include; an include in one is reported. */
  readonly skipPaths: ReadonlySet<string>;
  readonly onWarning: (message: string) => void;
  /** Something asked for that is not in the backup: a missing include, a folder that cannot be listed, a file that cannot be read. */
  readonly onUnreadable: (path: string, reason: string) => void;
}

const SLASH = Buffer.from('/');

/** The walk's own state beside the options: the recorded path (latin1) of every include, every folder listed. */
interface WalkState extends WalkOptions {
  readonly includeRoots: ReadonlySet<string>;
  readonly listedFolders: ListedFolders;
  /**
   * Set once the looks at the walk's end begin: each folder they listed (device:inode, as opened), and
   * where. One moved on and found again by a later look is not walked again, and is named: a user moving
   * a folder of theirs from one changed folder to the next had root's backup read it once a look per
   * folder. Not files: one the looks reached may not be the one the sender then read (saved over before
   * its open), and skipped when found again under another name it was in no place; a file a user keeps
   * moving is read again in each changed folder a look finds it in (the walk itself chases it as far).
   */
  lookWalked?: Map<string, Buffer>;
  /** Entries walked after they changed, and names gone when read: a moved file is not reported as vanished. */
  readonly moved: MovedEntries;
  /**
   * Names left out so far that a moved folder's old path cannot answer for (an include walked on its own,
   * a folder the looks read elsewhere): a folder with any below it proves no move.
   */
  unprovable: number;
}

export function* walk(options: WalkOptions): Generator<WalkedEntry> {
  const owners = new OwnerNames();
  const includes = [...new Set(options.includes)];
  // Every include is resolved once, before anything is walked: its folder's real path and identity. An
  // include inside another one (/etc and /etc/ssl, or two spellings of one folder) is walked once, as its
  // own include, and the outer walk skips it by the path resolved here: resolved again in its turn, after
  // a deploy flipped a symlink on its way, it named another folder, and the one the outer walk skipped was
  // in no backup (exit 0); one made after the start was walked twice and the server refused the backup.
  // Not held open until its turn: a node with a thousand includes ran out of fds (review).
  const located = includes.map((include) => ({ include, location: locateInclude(include, options) }));
  const recorded = located.flatMap(({ location }) => (location === undefined ? [] : [location.path]));
  const state: WalkState = { ...options, includeRoots: new Set(recorded.map((path) => path.toString('latin1'))), listedFolders: new ListedFolders(), moved: new MovedEntries(Date.now()),
    unprovable: 0 };
  yield* walkIncludes(located, state, owners, new Set<string>());
  state.lookWalked = new Map();
  const found: SecondLookFindings = { entries: 0, folders: new Set() };
  const changeWarnings = yield* secondLooks(state.listedFolders, found, (folderFd, path, names) => walkFoundNames(folderFd, path, names, state, owners));
  if (found.entries > 0) {
    const folders = found.folders.size;
    options.onWarning(`${found.entries} ${found.entries === 1 ? 'entry' : 'entries'} made or moved into ${folders} `
      + `${folders === 1 ? 'folder' : 'folders'} after the walk listed ${folders === 1 ? 'it' : 'them'}: read when the walk ended, in this backup`);
  }
  for (const warning of changeWarnings) options.onWarning(warning);
  const movedWarning = state.moved.settle((path) => options.onUnreadable(path, 'vanished during the backup'), (path) => !isWalked(path, options));
  if (movedWarning !== undefined) options.onWarning(movedWarning);
}

/** An include as resolved at the start: its folder's real path and identity, its own name, where it is recorded. */
interface LocatedInclude {
  readonly parentPath: string;
  readonly parentDev: bigint;
  readonly parentIno: bigint;
  readonly name: Buffer;
  readonly path: Buffer;
}

/** The include's folder opened again by its real path in its turn, or undefined (reported) when it is another folder now. */
function reopenParent(include: string, location: LocatedInclude, options: WalkOptions): number | undefined {
  let fd: number;
  try {
    fd = openRealPath(location.parentPath, openFolderAt);
  } catch (error) {
    options.onUnreadable(include, `its folder ${location.parentPath} cannot be opened any more (${describe(error)}): not in this backup`);
    return undefined;
  }
  const now = statFd(fd);
  if (now.dev === location.parentDev && now.ino === location.parentIno) return fd;
  closeSync(fd);
  options.onUnreadable(include, `its folder ${location.parentPath} was replaced during the backup (another folder has its path now): not in this backup`);
  return undefined;
}

function* walkIncludes(located: readonly { include: string; location: LocatedInclude | undefined }[], state: WalkState, owners: OwnerNames,
  walked: Set<string>): Generator<WalkedEntry> {
  const options = state;
  const includePaths = located.flatMap(({ location }) => (location === undefined ? [] : [location.path.toString('utf8')]));
  for (const { include, location } of located) {
    if (location === undefined) continue;
    const { name, path } = location;
    const key = path.toString('latin1');
    if (walked.has(key)) continue;
    const parentFd = reopenParent(include, location, options);
    if (parentFd === undefined) continue;
    try {
      walked.add(key);
      const excluding = excludingPattern(path, options);
      if (excluding !== undefined) {
        // As configured: RegExp.source writes each "/" as "\/".
        options.onUnreadable(include, `not backed up: exclude_regex ${excluding.source.replaceAll('\\/', '/')} matches the include itself`);
        continue;
      }
      const own = ownFolderHolding(path.toString('utf8'), options.skipPaths);
      if (own !== undefined) {
        options.onUnreadable(include, `not backed up: it is in ${own}, where the client keeps its own files while it runs `
          + '(dump FIFOs, database credentials, backups received for loading), which no backup holds');
        continue;
      }
      if (isRefusedPath(path, options)) continue;
      let stats: PosixStat;
      const statedAfterMs = state.moved.now();
      try {
        stats = statAt(parentFd, name);
      } catch (error) {
        options.onUnreadable(include, describe(error) === 'ENOENT' ? 'the include does not exist' : `cannot be read (${describe(error)})`);
        continue;
      }
      if (entryKind(stats.mode) === 'symlink' && !isTargetInAnotherInclude(include, includePaths, options)) reportSymlinkInclude(include, parentFd, name, options);
      yield* walkEntry(parentFd, name, path, stats, statedAfterMs, state, owners);
    } finally {
      closeSync(parentFd);
    }
  }
}

/**
 * An include that is itself a symlink is recorded as the link (as tar and burp take it), but what it
 * points to is not in the backup: that is what the include most likely asked for, so the backup is
 * incomplete (exit 3), not "done" with 0 files.
 */
function reportSymlinkInclude(include: string, parentFd: number, name: Buffer, options: WalkOptions): void {
  let target: string;
  try {
    target = escapeBytes(realpathSync.native(include, { encoding: 'buffer' }));
  } catch {
    try {
      target = escapeBytes(readlinkAt(parentFd, name));
    } catch (error) {
      target = `a target that cannot be read (${describe(error)})`;
    }
  }
  options.onUnreadable(include, `is a symlink to ${target}: the link is in the backup, not what it points to (name ${target} as the include)`);
}

/**
 * Whether what a symlink include points to lies in another include and no rule leaves it out there: its
 * content is in the backup, and reporting the link as missing it (exit 3) was false.
 */
function isTargetInAnotherInclude(include: string, includePaths: readonly string[], options: WalkOptions): boolean {
  // As bytes: a target whose name is not UTF-8 decoded to U+FFFD, which no include holds (a false exit 3).
  let target: Buffer;
  try {
    target = realpathSync.native(include, { encoding: 'buffer' });
  } catch {
    return false;
  }
  if (ownFolderHolding(target.toString('utf8'), options.skipPaths) !== undefined) return false;
  const holder = includePaths.map((path) => Buffer.from(path)).find((path) => target.equals(path)
    || (target.length > path.length && target.subarray(0, path.length).equals(path) && (path.length === 1 || target[path.length] === 0x2f)));
  if (holder === undefined) return false;
  // Each folder from the holding include down to the target must be walked, the target too.
  for (let end = target.length; end > holder.length; end = target.lastIndexOf(SLASH, end - 1)) {
    if (excludingPattern(target.subarray(0, end), options) !== undefined) return false;
  }
  return true;
}

/** An include's recorded path: its folder's real path, then its own name. */
function recordedPathIn(parent: string, include: string): Buffer {
  return Buffer.from(parent === '/' ? `/${basename(include)}` : `${parent}/${basename(include)}`);
}

/**
 * The include's parent folder, opened by its real path: the include is recorded where it really is,
 * so restoring it to its original place never has to pass through a symlink. The include itself is
 * taken as it is (a symlink include is a symlink, reported by reportSymlinkInclude).
 */
function locateInclude(include: string, options: WalkOptions): LocatedInclude | undefined {
  if (include === '/') return identify('/', include, Buffer.from('.'), Buffer.from('/'), options);
  let parent: string;
  try {
    // Symlinks on the way are followed, but not one another user may have planted in /tmp (reading: the
    // kernel's rule; a restore target, which is written, is held to a stricter one).
    parent = operatorRealPath(dirname(include), 'kernel');
  } catch (error) {
    options.onUnreadable(include, error instanceof PlantableSymlinkError ? `its folder is reached through ${error.message}: not in this backup`
      : describe(error) === 'ENOENT' ? 'the include does not exist' : `its folder cannot be reached (${describe(error)})`);
    return undefined;
  }
  const path = recordedPathIn(parent, include);
  if (!path.equals(Buffer.from(include))) options.onWarning(`include ${include} is recorded as ${escapeBytes(path)} (a symlink on the way)`);
  return identify(parent, include, Buffer.from(basename(include)), path, options);
}

/** The folder at a real path, opened without following a symlink, and known by its device and inode. */
function identify(parent: string, include: string, name: Buffer, path: Buffer, options: WalkOptions): LocatedInclude | undefined {
  let fd: number;
  try {
    // Not by name: a folder on the way swapped for a symlink after realpath (a user's rename loop in a
    // folder of their own) had another folder, one they cannot read, read and recorded under the include's path.
    fd = openRealPath(parent, openFolderAt);
  } catch (error) {
    const code = describe(error);
    options.onUnreadable(include, code === 'ELOOP' || code === 'ENOTDIR'
      ? `its folder ${parent} changed as it was opened (a symlink took the place of a folder on its way): not in this backup`
      : `its folder cannot be opened (${code})`);
    return undefined;
  }
  try {
    const stats = statFd(fd);
    return { parentPath: parent, parentDev: stats.dev, parentIno: stats.ino, name, path };
  } finally {
    closeSync(fd);
  }
}

function isWalked(path: Buffer, options: WalkOptions): boolean {
  if (options.skipPaths.size > 0 && options.skipPaths.has(path.toString('utf8'))) return false;
  return excludingPattern(path, options) === undefined;
}

/**
 * A path no backup entry may have (longer than the protocol allows, or a name longer than 255 bytes,
 * as on a file system that stores names as UTF-16): reported, and nothing under it walked. Sent, it
 * made the server refuse the whole backup.
 */
function isRefusedPath(path: Buffer, options: WalkOptions): boolean {
  const problem = entryPathProblem(path);
  if (problem === undefined) return false;
  options.onUnreadable(escapeBytes(path), `cannot be backed up: ${problem}, beyond what a backup entry may have (nothing under it is in the backup either)`);
  return true;
}

/** The first exclude_regex matching the path, if any. */
function excludingPattern(path: Buffer, options: WalkOptions): RegExp | undefined {
  if (options.excludeRegex.length === 0) return undefined;
  // Patterns see the path as UTF-8 text (an invalid byte reads as U+FFFD).
  const text = path.toString('utf8');
  return options.excludeRegex.find((regex) => regex.test(text));
}

/** An entry to walk: its folder's fd, its name and path there, its lstat, and a time before that lstat (for MovedEntries). */
interface EntryToWalk {
  readonly parentFd: number;
  readonly name: Buffer;
  readonly path: Buffer;
  readonly stats: PosixStat;
  readonly statedAfterMs: number;
}

/** A folder being walked: its fd (held until its last name is walked), its names in byte order, how far the walk is in them. */
interface FolderInWalk {
  readonly folderFd: number;
  readonly path: Buffer;
  readonly prefix: Buffer;
  readonly names: Buffer[];
  index: number;
  readonly listedAtMs: number;
  readonly onVanished: (path: Buffer, child: Buffer) => void;
  readonly opened: PosixStat;
  readonly step: number;
  readonly unprovableBefore: number;
  readonly excludedMark: ExcludedMark;
}

/**
 * The entry and, for a folder, everything below it, depth first. A loop over a stack of the folders
 * being walked, not a generator per level: each entry was yielded through one generator per folder
 * above it, on the native stack, and a tree 2,000 folders deep (a 4,000-byte path, below PATH_MAX,
 * which any user can make in a folder of theirs) ended every backup of the node with "Maximum call
 * stack size exceeded" (exit 1), and cost the square of its depth on the way.
 */
function* walkEntry(parentFd: number, name: Buffer, path: Buffer, stats: PosixStat, statedAfterMs: number, options: WalkState,
  owners: OwnerNames): Generator<WalkedEntry> {
  const folders: FolderInWalk[] = [];
  try {
    let next: EntryToWalk | undefined = { parentFd, name, path, stats, statedAfterMs };
    while (next !== undefined || folders.length > 0) {
      if (next !== undefined) {
        const entered: FolderInWalk | undefined = yield* walkOne(next, options, owners);
        next = undefined;
        if (entered !== undefined) folders.push(entered);
        continue;
      }
      const folder = folders[folders.length - 1];
      next = nextChild(folder, options);
      if (next !== undefined) continue;
      folders.pop();
      try {
        options.moved.leaveFolder();
        leaveWalkedFolder(folder, options);
      } finally {
        closeSync(folder.folderFd);
      }
    }
  } finally {
    // The walk was stopped (its consumer returned or threw): the folders still open are left as they are.
    for (let index = folders.length - 1; index >= 0; index--) {
      options.moved.leaveFolder();
      closeSync(folders[index].folderFd);
    }
  }
}

/** The next name of the folder to walk (its path and lstat), or undefined once its last name is walked. */
function nextChild(folder: FolderInWalk, options: WalkState): EntryToWalk | undefined {
  while (folder.index < folder.names.length) {
    const child = folder.names[folder.index++];
    const found = childToWalk(folder.folderFd, folder.prefix, child, options, folder.onVanished);
    if (found !== undefined) return { parentFd: folder.folderFd, name: child, path: found.path, stats: found.stats, statedAfterMs: folder.listedAtMs };
  }
  return undefined;
}

/** After a folder's last name: what the moved-entries bookkeeping makes of the names left out below it. */
function leaveWalkedFolder(folder: FolderInWalk, options: WalkState): void {
  const excludedBelow = options.moved.excluded.since(folder.excludedMark);
  if (options.unprovable !== folder.unprovableBefore || excludedBelow === undefined) options.moved.withdraw(folder.opened, folder.step);
  else if (excludedBelow.end > excludedBelow.start) options.moved.leftOutBelow(folder.opened, folder.step, folder.path, excludedBelow);
}

/**
 * Yields one entry; a folder is opened, yielded and listed, and returned (its fd open, the walk entered
 * in it) for walkEntry to walk its names; undefined for anything else, or a folder that cannot be listed.
 */
function* walkOne(entry: EntryToWalk, options: WalkState, owners: OwnerNames): Generator<WalkedEntry, FolderInWalk | undefined> {
  const { parentFd, name, path, stats, statedAfterMs } = entry;
  const kind = entryKind(stats.mode);
  let type = entryTypeOf(kind);
  if (type === undefined) {
    options.onUnreadable(escapeBytes(path), `unknown file type (mode ${stats.mode.toString(8)})`);
    return undefined;
  }
  if (type === EntryType.ENTRY_TYPE_FIFO && options.readAllFifos) type = EntryType.ENTRY_TYPE_FIFO_CONTENT;
  const readAt = type === EntryType.ENTRY_TYPE_DIRECTORY ? options.lookWalked?.get(`${stats.dev}:${stats.ino}`) : undefined;
  if (readAt !== undefined) {
    options.unprovable++;
    options.onWarning(`${escapeBytes(path)}: moved here during the backup after the walk's end had read it as ${escapeBytes(readAt)}: `
      + 'in this backup there, as read then, and not read again; an entry moved into it since may be in neither its old nor its new place');
    return undefined;
  }
  let linkTarget: Buffer | undefined;
  if (type === EntryType.ENTRY_TYPE_SYMLINK) {
    try {
      linkTarget = readlinkAt(parentFd, name);
    } catch (error) {
      options.onUnreadable(escapeBytes(path), `cannot read the link (${describe(error)})`);
      return undefined;
    }
  }
  if (type !== EntryType.ENTRY_TYPE_DIRECTORY) {
    yield new WalkedEntry(parentFd, name, type, stats, owners, linkTarget, path, options.moved, options.moved.nextStep(), statedAfterMs);
    return undefined;
  }
  let folderFd: number | undefined;
  let opened: PosixStat;
  try {
    folderFd = name.length === 1 && name[0] === 0x2e ? openKeepingAtimeAt(parentFd, '.', posixConstants().O_RDONLY | posixConstants().O_DIRECTORY) : openFolderAt(parentFd, name);
    opened = statFd(folderFd);
  } catch (error) {
    // An fstat fails on a failing network or FUSE file system. Either way the folder is recorded as
    // walked (its owner and mode are worth restoring), its content reported missing, the walk goes on.
    const failed = folderFd === undefined ? 'open' : 'read';
    if (folderFd !== undefined) closeSync(folderFd);
    yield new WalkedEntry(parentFd, name, type, stats, owners, linkTarget, path, options.moved, options.moved.nextStep(), statedAfterMs);
    options.onUnreadable(escapeBytes(path), `cannot ${failed} the folder (${describe(error)}); its content is not in the backup`);
    return undefined;
  }
  let isHandedOver = false;
  try {
    // The folder listed is the one opened: when another folder took the name since the lstat, its own
    // owner, mode, times and xattrs are recorded with the content read from it, never the first one's.
    const isReplaced = openedFile(stats, opened).kind === 'replaced';
    // An automount point not yet mounted looks the same: its lstat is the mount point, its open mounts it.
    if (isReplaced) options.onWarning(`${escapeBytes(path)}: replaced by another folder during the backup, or a file system was mounted on it (the new one stored)`);
    // Recorded as opened either way: the same inode may have changed between the lstat and the open (a chmod,
    // or a new folder given the freed inode number), and the listing is the opened one's.
    // The folder listed is the one opened: known by that inode to the looks that may find it again.
    options.lookWalked?.set(`${opened.dev}:${opened.ino}`, path);
    const step = options.moved.nextStep();
    const unprovableBefore = options.unprovable;
    // Names exclude_regex leaves out below it: it proves its old name only if the same rules leave them out there too.
    const excludedMark = options.moved.excluded.mark();
    yield new WalkedEntry(parentFd, name, type, opened, owners, linkTarget, path, options.moved, step, statedAfterMs, folderFd);
    let listing: FolderListing;
    let listed: PosixStat;
    const listedAtMs = options.moved.now();
    try {
      // Described again just before the listing, which the caller's work on the entry may have followed
      // by a while: a change in between is in the listing, not one to warn of at the end.
      listed = statFd(folderFd);
      listing = readFolderInodesAt(folderFd);
    } catch (error) {
      options.onUnreadable(escapeBytes(path), `cannot list the folder (${describe(error)}); its content is not in the backup`);
      return undefined;
    }
    options.listedFolders.add(path, opened, listed, listedAtMs, options.includeRoots.has(path.toString('latin1')), listing);
    const onVanished = vanishedFrom(folderFd, listed, listing, listedAtMs, options);
    const names = listing.names.sort(Buffer.compare);
    const prefix = path.length === 1 ? path : Buffer.concat([path, SLASH]);
    // A name gone below it, proven read elsewhere only with exclusions, makes it prove nothing (moved-entries.ts).
    options.moved.enterFolder(opened);
    isHandedOver = true;
    return { folderFd, path, prefix, names, index: 0, listedAtMs, onVanished, opened, step, unprovableBefore, excludedMark };
  } finally {
    if (!isHandedOver) closeSync(folderFd);
  }
}

/**
 * The entries a look found in a listed folder by these names (sorted), as far as they are walked at all;
 * returns how many were. One gone again before its lstat was made and removed during the backup (or
 * moved on, and found in its next folder's look): nothing the backup was asked for, not reported.
 */
function* walkFoundNames(folderFd: number, path: Buffer, names: readonly Buffer[], options: WalkState, owners: OwnerNames): Generator<WalkedEntry, number> {
  const prefix = path.length === 1 ? path : Buffer.concat([path, SLASH]);
  const statedAfterMs = options.moved.now();
  let walked = 0;
  for (const child of names) {
    const found = childToWalk(folderFd, prefix, child, options, undefined);
    if (found === undefined) continue;
    walked++;
    yield* walkEntry(folderFd, child, found.path, found.stats, statedAfterMs, options, owners);
  }
  return walked;
}

/**
 * What to do with a name of this listing gone at its lstat: reported when the walk ends, unless the
 * file it named was walked in another place by then (moved-entries.ts). The names' inode numbers are
 * looked up by name once a folder, at its first name gone: a folder emptied during the walk stays linear.
 */
function vanishedFrom(folderFd: number, listed: PosixStat, listing: FolderListing, listedAtMs: number, options: WalkState): (path: Buffer, child: Buffer) => void {
  const shownAtStep = options.moved.currentStep;
  let inodeByName: Map<string, bigint> | undefined;
  return (path, child) => {
    if (inodeByName === undefined) {
      inodeByName = new Map();
      for (const [position, name] of listing.joinedNames.split('\0').entries()) inodeByName.set(name, listing.inodes[position]);
    }
    const ino = inodeByName.get(child.toString('latin1'));
    if (ino === undefined || !options.moved.listedNameVanished(folderFd, listed, path, ino, listedAtMs, shownAtStep)) {
      options.onUnreadable(escapeBytes(path), 'vanished during the backup');
    }
  };
}

/**
 * A listed name's path and lstat, or undefined (reported as needed) when it is not walked: excluded,
 * an include of its own, a path no entry may have, gone or unreadable. onVanished: what to do with a
 * name gone at its lstat; none for a name a look found, gone again, which is not reported. A function,
 * not a generator level of its own: each level a walk's entries pass through costs each of them a resumption.
 */
function childToWalk(folderFd: number, prefix: Buffer, child: Buffer, options: WalkState,
  onVanished: ((path: Buffer, child: Buffer) => void) | undefined): { path: Buffer; stats: PosixStat } | undefined {
  const path = Buffer.concat([prefix, child]);
  if (!isWalked(path, options)) {
    options.moved.excludedHere(path);
    return undefined;
  }
  if (options.includeRoots.size > 1 && options.includeRoots.has(path.toString('latin1'))) {
    // Walked as its own include, where it was then: what it holds here may not be what was read there.
    options.unprovable++;
    return undefined;
  }
  if (isRefusedPath(path, options)) return undefined;
  try {
    return { path, stats: statAt(folderFd, child) };
  } catch (error) {
    if (describe(error) !== 'ENOENT') options.onUnreadable(escapeBytes(path), `cannot be read (${describe(error)})`);
    else onVanished?.(path, child);
    return undefined;
  }
}

export function describe(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? String(error);
}
