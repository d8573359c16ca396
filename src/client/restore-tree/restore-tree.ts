// The symlink-proof restore tree: every entry is reached from the held target folder by opening each
// component with O_NOFOLLOW|O_DIRECTORY, and every write is relative to a verified folder fd.
import { randomBytes } from 'node:crypto';
import { closeSync } from 'node:fs';
import {
  type EntryKind,
  type PosixStat,
  entryKind,
  linkHandleAt,
  mkdirAt,
  openAt,
  openKeepingAtimeAt,
  openHandleAt,
  posixConstants,
  readlinkAt,
  statAt,
  statAtIfExists,
  statFd,
  symlinkAt,
  unlinkAt,
} from '../posix/at';
import { escapeBytes } from '../../common/escape-bytes';
import { type Owner, OwnerNames } from '../posix/owners';
import { type Xattr, readXattrs } from '../posix/xattrs';
import { readInodeFlags } from '../posix/inode-flags';
import { withLocalAclIds } from '../posix/acl-names';
import { type DeviceKind, type DeviceNumber, makeDeviceAt, makeFifoAt, makeSocketAt } from '../posix/special-files';
import { splitEntryPath, toEntryPath } from './entry-path';
import {
  EntryReplacedError, LinkTargetChangedError, MetadataError, NeedsRootError, NotAFolderError, RestoreSystemError, RestoreTreeError, SymlinkInPathError,
} from './errors';
import { type Inode, LinkTargets, UNREACHABLE, isSameInode } from './link-targets';
import { REPLACED, setCheckedFolderMetadata, setMadeEntryMetadata } from './checked-entry';
import type { EntryMeta } from '../../proto/cpsbackup';
import { FolderCache } from './folder-cache';
import { type FolderLease, FolderWalker, type Located, folderKey } from './folder-walk';
import { type EntryMetadata, applyMetadata } from './metadata';
import { openTargetRoot, type MadeFolder } from './target-root';
import { TempFile, renameIntoPlace } from './temp-file';

export interface RestoreTreeOptions {
  /** Unused folder fds kept open (LRU); default 128, far below any fd limit. */
  readonly maxCachedFolders?: number;
  /** Mode of folders this restore creates before their own metadata is set; default 0700 (nobody else enters meanwhile). */
  readonly newFolderMode?: number;
}

export interface ReplaceOption {
  /** Replace an existing non-folder entry atomically (created under a temp name, renamed over it). Default: EEXIST. */
  readonly replace?: boolean;
}

export interface MakeOptions extends ReplaceOption {
  /**
   * Given to the entry through an O_PATH handle once it is made (under its temp name when replacing),
   * only while the name still holds an entry of that kind with no other name: never to what another
   * user may have put under the name meanwhile (EntryReplacedError then).
   */
  readonly metadata?: EntryMetadata;
}

/** A symlink or special file made: the inode a later hard link to it must find, and what of its metadata could not be set. */
export interface MadeEntry {
  readonly identity: Inode;
  readonly metadataMissing?: MetadataError;
}

export interface HardLinkOptions extends ReplaceOption {
  /**
   * The backup's path of the first name (EntryMeta.hardlinkTarget): the link is made only while
   * existingPath still holds what this restore left there for it (noteRestored), else LinkTargetChangedError.
   */
  readonly firstName?: Buffer;
}

/** What open(O_TMPFILE) answers where the file system (or kernel) cannot make a file without a name. */
const UNNAMED_FILES_UNSUPPORTED = new Set(['EOPNOTSUPP', 'ENOTSUP', 'EISDIR', 'EINVAL']);

export class RestoreTree {
  private readonly linkTargets = new LinkTargets();
  private readonly cache: FolderCache;
  private readonly owners = new OwnerNames();
  private readonly tempPrefix = randomBytes(8).toString('hex');
  private tempCounter = 0;
  /** False once the target's file system refused O_TMPFILE: files are made under temporary names then. */
  private makesUnnamedFiles = true;
  private readonly newFolderMode: number;
  private readonly walker: FolderWalker;
  private isClosed = false;

  private constructor(
    /** Canonical absolute path of the target ("/" for original paths). */
    readonly rootPath: string,
    private readonly rootFd: number,
    /** The folders this restore made for its target (the target first, then those above it it made too). */
    readonly madeFolders: readonly MadeFolder[],
    options: RestoreTreeOptions,
  ) {
    this.cache = new FolderCache(options.maxCachedFolders ?? 128);
    this.newFolderMode = options.newFolderMode ?? 0o700;
    this.walker = new FolderWalker(rootFd, this.cache, this.newFolderMode, (components) => this.localPathOf(components));
  }

  /** target: the --to folder in any spelling (created if missing), or "/" to restore to the original paths. */
  static async open(target: string, options: RestoreTreeOptions = {}): Promise<RestoreTree> {
    const root = await openTargetRoot(target);
    return new RestoreTree(root.path, root.fd, root.madeFolders, options);
  }

  /** The target folder did not exist: this restore made it (a backup's "/" then gives it its metadata). */
  get isRootMade(): boolean {
    return this.madeFolders.length > 0;
  }

  /** Folder fds held open now, the root's included. */
  get openFolderCount(): number {
    return this.cache.size + 1;
  }

  /** The ids a restore gives an owner here (the recorded name when it exists on this machine, else the id). */
  localOwner(owner: Owner): { uid: number; gid: number } {
    return this.owners.localIds(owner);
  }

  /** The backup's attributes as given here: the users and groups its ACLs name, by name where it exists here (acl-names.ts). */
  localXattrs(xattrs: readonly Xattr[]): Xattr[] {
    return withLocalAclIds(xattrs, this.owners);
  }

  /** Where an entry lands, for messages: the canonical root plus the escaped components. */
  localPath(entryPath: Buffer | string): string {
    return this.localPathOf(splitEntryPath(entryPath));
  }

  /**
   * Creates a folder (mode newFolderMode; its own metadata comes after its content). Existing real folders
   * are fine. identity: the folder made or found, the only one setFolderMetadata will give metadata to.
   */
  makeFolder(entryPath: Buffer | string): { created: boolean; identity: Inode } {
    const entry = this.locate(entryPath);
    if (entry.components.length === 0) return { created: false, identity: statFd(this.rootFd) };
    return this.inParent(entry, 'create folder', (folderFd, name) => {
      let created = false;
      try {
        mkdirAt(folderFd, name, this.newFolderMode);
        created = true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const stats = statAt(folderFd, name);
      if (entryKind(stats.mode) === 'symlink') {
        throw new SymlinkInPathError(entry.entryPath, this.localPathOf(entry.components), readlinkAt(folderFd, name));
      }
      if (entryKind(stats.mode) !== 'folder') throw new NotAFolderError(entry.entryPath, this.localPathOf(entry.components));
      return { created, identity: { dev: stats.dev, ino: stats.ino } };
    });
  }

  /**
   * A folder's owner, xattrs/ACLs, mode and times, given through an fd of the folder at its path only
   * while that is still `identity` (makeFolder's, or the stat a kept folder was judged by); else
   * EntryReplacedError and nothing is touched. Regression: given by name at the end of the restore, a
   * user who may write in the folder's parent renamed it and put their own file under its name, which
   * root then gave the folder's owner, group and set-group-ID mode. "/" is the held root itself.
   */
  setFolderMetadata(entryPath: Buffer | string, identity: Inode, metadata: EntryMetadata): void {
    const entry = this.locate(entryPath);
    if (entry.components.length === 0) {
      this.setMetadata(entryPath, metadata);
      return;
    }
    const localPath = (): string => this.localPathOf(entry.components);
    const parent = this.walker.leaseParent(entry, false);
    let result: ReturnType<typeof setCheckedFolderMetadata> = REPLACED;
    if (parent !== undefined) {
      try {
        result = setCheckedFolderMetadata(parent.fd, entry.components[entry.components.length - 1], identity, metadata, this.owners);
      } catch (error) {
        throw new RestoreSystemError(entry.entryPath, localPath(), 'set metadata of', error);
      } finally {
        parent.release();
      }
    }
    if (result === REPLACED) throw new EntryReplacedError(entry.entryPath, localPath(), 'the folder');
    if (result.length > 0) throw new MetadataError(entry.entryPath, localPath(), result);
  }

  /** A new empty file under a temporary name beside where the entry goes; write, set metadata, commit. */
  createFile(entryPath: Buffer | string): TempFile {
    const entry = this.locate(entryPath);
    if (entry.components.length === 0) throw new NotAFolderError(entry.entryPath, `${this.rootPath} (the root itself cannot be created)`);
    const { O_RDWR, O_CREAT, O_EXCL, O_NOFOLLOW } = posixConstants();
    // The temp file keeps the lease of its folder until it is committed or aborted: it takes its name
    // where it was made, and a leased fd is never closed by the cache (a dup per file cost more).
    const folder = this.walker.leaseParent(entry, true) as FolderLease;
    try {
      const name = entry.components[entry.components.length - 1];
      const localPath = (): string => this.localPathOf(entry.components);
      const linkUnderTempName = (link: (candidate: Buffer) => void): Buffer => this.withTempName(link).name;
      const unnamed = this.unnamedFileIn(folder.fd);
      if (unnamed !== undefined) return new TempFile(unnamed, folder, undefined, linkUnderTempName, name, entry.entryPath, localPath, this.owners);
      const tempName = this.withTempName((candidate) => openAt(folder.fd, candidate, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600));
      return new TempFile(tempName.result, folder, tempName.name, linkUnderTempName, name, entry.entryPath, localPath, this.owners);
    } catch (error) {
      folder.release();
      if (error instanceof RestoreTreeError) throw error;
      throw new RestoreSystemError(entry.entryPath, this.localPathOf(entry.components), 'create', error);
    }
  }

  /** A symlink holding target's bytes as given; it is never followed by this restore. */
  makeSymlink(entryPath: Buffer | string, target: Buffer | string, options: MakeOptions = {}): MadeEntry {
    const entry = this.locate(entryPath);
    return this.inParent(entry, 'create symlink', (folderFd, name) => {
      return this.create(entry, folderFd, name, options, 'symlink', (createName) => symlinkAt(target, folderFd, createName));
    });
  }

  /**
   * After an entry was restored (or found identical and kept) at localPath: what is there now is what
   * later hard links to entryPath (its path in the backup) must find there. Only entries a link may name.
   */
  noteRestored(meta: EntryMeta, localPath: Buffer | undefined, identity?: Inode): void {
    if (localPath === undefined || !this.linkTargets.isLinkable(meta)) return;
    // What the restore itself made or checked (fstat of the file it wrote, before its rename): a stat by
    // name after the rename could already find what a user who may write in the folder put there instead.
    if (identity !== undefined) {
      this.linkTargets.record(meta.path, identity);
      return;
    }
    let found: PosixStat | undefined;
    try {
      found = this.stat(localPath);
    } catch {
      // A folder on its way is a symlink, a file or unsearchable now: that entry's own failure is
      // reported; thrown here, it ended the whole restore (exit 1) with nothing after it restored.
      found = undefined;
    }
    this.linkTargets.record(meta.path, found);
  }

  /** A hard link at entryPath to existingPath; both ends are reached from the root without following symlinks. */
  makeHardLink(existingPath: Buffer | string, entryPath: Buffer | string, options: HardLinkOptions = {}): void {
    const existing = this.locate(existingPath);
    const entry = this.locate(entryPath);
    if (existing.components.length === 0) throw new NotAFolderError(entry.entryPath, `${this.rootPath} (the root cannot be linked)`);
    const source = this.walker.leaseParent(existing, false);
    if (source === undefined) {
      const missing = Object.assign(new Error('ENOENT: no such file or directory'), { code: 'ENOENT' });
      throw new RestoreSystemError(entry.entryPath, this.localPathOf(existing.components), 'link to', missing);
    }
    try {
      const sourceName = existing.components[existing.components.length - 1];
      const expected = options.firstName === undefined ? undefined : this.linkTargets.expected(options.firstName);
      const changed = (): LinkTargetChangedError => new LinkTargetChangedError(entry.entryPath, this.localPathOf(entry.components),
        options.firstName!, this.localPathOf(existing.components));
      if (expected === UNREACHABLE) throw changed();
      this.inParent(entry, 'create hard link', (folderFd, name) => {
        // The inode is opened once, checked, and that inode linked (never the name again): checked by name
        // and then linked by name, a user swapping two names in the first name's folder (RENAME_EXCHANGE)
        // in between made the new name a link to their own file.
        let handle: number;
        try {
          handle = openHandleAt(source.fd, sourceName);
        } catch (error) {
          if (expected !== undefined && (error as NodeJS.ErrnoException).code === 'ENOENT') throw changed();
          throw new RestoreSystemError(entry.entryPath, this.localPathOf(existing.components), 'link to', error);
        }
        try {
          if (expected !== undefined && !isSameInode(statFd(handle), expected)) throw changed();
          this.create(entry, folderFd, name, options, undefined, (createName) => linkHandleAt(handle, folderFd, createName));
        } finally {
          closeSync(handle);
        }
      });
    } finally {
      source.release();
    }
  }

  makeFifo(entryPath: Buffer | string, mode = 0o600, options: MakeOptions = {}): MadeEntry {
    const entry = this.locate(entryPath);
    return this.inParent(entry, 'create FIFO', (folderFd, name) => {
      return this.create(entry, folderFd, name, options, 'fifo', (createName) => makeFifoAt(folderFd, createName, mode));
    });
  }

  makeSocket(entryPath: Buffer | string, mode = 0o600, options: MakeOptions = {}): MadeEntry {
    const entry = this.locate(entryPath);
    return this.inParent(entry, 'create socket', (folderFd, name) => {
      return this.create(entry, folderFd, name, options, 'socket', (createName) => makeSocketAt(folderFd, createName, mode));
    });
  }

  /** Devices need root: otherwise NeedsRootError, which a restorer reports as a warning. */
  makeDevice(entryPath: Buffer | string, kind: DeviceKind, rdev: bigint | DeviceNumber, mode = 0o600, options: MakeOptions = {}): MadeEntry {
    const entry = this.locate(entryPath);
    const what = `a ${kind === 'char' ? 'character' : 'block'} device`;
    if (process.geteuid?.() !== 0) throw new NeedsRootError(entry.entryPath, what);
    return this.inParent(entry, `create ${what}`, (folderFd, name) => {
      try {
        return this.create(entry, folderFd, name, options, `${kind}-device`, (createName) => makeDeviceAt(folderFd, createName, kind, rdev, mode));
      } catch (error) {
        // Root without CAP_MKNOD (a container, a user namespace) is the same refusal.
        if ((error as NodeJS.ErrnoException).code === 'EPERM') throw new NeedsRootError(entry.entryPath, what);
        throw error;
      }
    });
  }

  /**
   * Owner, xattrs/ACLs, mode, times of an existing entry of any kind, by name in its verified folder
   * (never opening it, never following it); "/" is the root folder itself. By name, it reaches whatever
   * has the name now: a restore uses setFolderMetadata and the make* methods' metadata, which check it.
   */
  setMetadata(entryPath: Buffer | string, metadata: EntryMetadata): void {
    const entry = this.locate(entryPath);
    let failures;
    if (entry.components.length === 0) {
      // The root is held as an O_PATH handle, which fchown/fchmod refuse: "." in it names the same folder.
      failures = applyMetadata({ dirfd: this.rootFd, name: Buffer.from('.'), isSymlink: false, isFolder: true }, metadata, this.owners);
    } else {
      failures = this.inParent(entry, 'set metadata of', (folderFd, name) => {
        const kind = entryKind(statAt(folderFd, name).mode);
        return applyMetadata({ dirfd: folderFd, name, isSymlink: kind === 'symlink', isFolder: kind === 'folder' }, metadata, this.owners);
      });
    }
    if (failures.length > 0) throw new MetadataError(entry.entryPath, this.localPathOf(entry.components), failures);
  }

  /** lstat of the entry; undefined when it (or a folder on the way) does not exist. */
  stat(entryPath: Buffer | string): PosixStat | undefined {
    const entry = this.locate(entryPath);
    if (entry.components.length === 0) return statAt(this.rootFd, '.');
    const parent = this.walker.leaseParent(entry, false);
    if (parent === undefined) return undefined;
    try {
      return statAtIfExists(parent.fd, entry.components[entry.components.length - 1]);
    } finally {
      parent.release();
    }
  }

  /** The target of an existing symlink at the entry's place (never followed). */
  readLink(entryPath: Buffer | string): Buffer {
    const entry = this.locate(entryPath);
    return this.inParent(entry, 'read the link', (folderFd, name) => readlinkAt(folderFd, name));
  }

  /** The extended attributes and ACLs of an existing entry, sorted by name (never following it; none where the file system has none). */
  readXattrs(entryPath: Buffer | string): Xattr[] {
    const entry = this.locate(entryPath);
    if (entry.components.length === 0) return readXattrs({ dirfd: this.rootFd, name: '.' });
    return this.inParent(entry, 'read the extended attributes of', (folderFd, name) => readXattrs({ dirfd: folderFd, name }));
  }

  /**
   * The kept inode flags of an existing regular file or folder (posix/inode-flags.ts), through an fd
   * opened for it (O_NOFOLLOW|O_NONBLOCK: a symlink or FIFO put there since is never followed nor waited
   * on); 0 for any other entry, or one this user may not open.
   */
  readInodeFlags(entryPath: Buffer | string): number {
    const entry = this.locate(entryPath);
    const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK, O_NOCTTY } = posixConstants();
    const read = (folderFd: number, name: Buffer | string): number => {
      let fd: number;
      try {
        fd = openAt(folderFd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
      } catch (error) {
        if (['EACCES', 'ELOOP', 'ENXIO', 'EPERM'].includes((error as NodeJS.ErrnoException).code ?? '')) return 0;
        throw error;
      }
      try {
        const kind = entryKind(statFd(fd).mode);
        return kind === 'file' || kind === 'folder' ? readInodeFlags(fd) : 0;
      } finally {
        closeSync(fd);
      }
    };
    if (entry.components.length === 0) return read(this.rootFd, '.');
    return this.inParent(entry, 'read the inode flags of', read);
  }

  /**
   * Opens an existing regular file read-only (to compare before overwriting); undefined for anything else,
   * and, with `expected`, for another inode than the one the caller judged by its stat (the name given to
   * another file since: a user swapping names in a folder of theirs must not have their file taken for the
   * one found identical, nor get a later hard link to it).
   */
  openExistingFile(entryPath: Buffer | string, expected?: Inode): number | undefined {
    const entry = this.locate(entryPath);
    if (entry.components.length === 0) return undefined;
    const parent = this.walker.leaseParent(entry, false);
    if (parent === undefined) return undefined;
    try {
      const name = entry.components[entry.components.length - 1];
      // Checked first so that a device or FIFO is never opened (opening some devices acts on them).
      const stats = statAtIfExists(parent.fd, name);
      if (stats === undefined || entryKind(stats.mode) !== 'file') return undefined;
      const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK, O_NOCTTY } = posixConstants();
      // Compared, not restored to: its atime stays as it was (openKeepingAtimeAt).
      const fd = openKeepingAtimeAt(parent.fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
      if (expected === undefined || isSameInode(statFd(fd), expected)) return fd;
      closeSync(fd);
      return undefined;
    } finally {
      parent.release();
    }
  }

  /** Removes a non-folder entry, or an empty folder; false when nothing was there. */
  remove(entryPath: Buffer | string): boolean {
    const entry = this.locate(entryPath);
    if (entry.components.length === 0) throw new NotAFolderError(entry.entryPath, `${this.rootPath} (the root cannot be removed)`);
    return this.inParent(entry, 'remove', (folderFd, name) => {
      const stats = statAtIfExists(folderFd, name);
      if (stats === undefined) return false;
      const isFolder = entryKind(stats.mode) === 'folder';
      if (isFolder) this.cache.forgetBelow(folderKey(entry.components));
      unlinkAt(folderFd, name, { removeFolder: isFolder });
      return true;
    });
  }

  /** Closes every held fd; the tree cannot be used afterwards. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.cache.closeAll();
    closeSync(this.rootFd);
  }

  private locate(entryPath: Buffer | string): Located {
    if (this.isClosed) throw new Error('restore tree is closed');
    const bytes = toEntryPath(entryPath);
    return { entryPath: bytes, components: splitEntryPath(bytes) };
  }

  private localPathOf(components: readonly Buffer[]): string {
    const below = components.map((component) => escapeBytes(component)).join('/');
    if (below.length === 0) return this.rootPath;
    return this.rootPath === '/' ? `/${below}` : `${this.rootPath}/${below}`;
  }

  /** Runs action with the entry's verified parent folder (created as needed); system errors name the entry. */
  private inParent<T>(entry: Located, operation: string, action: (folderFd: number, name: Buffer) => T): T {
    if (entry.components.length === 0) throw new NotAFolderError(entry.entryPath, `${this.rootPath} (the root itself cannot be created)`);
    const parent = this.walker.leaseParent(entry, true) as FolderLease;
    try {
      return action(parent.fd, entry.components[entry.components.length - 1]);
    } catch (error) {
      if (error instanceof RestoreTreeError) throw error;
      throw new RestoreSystemError(entry.entryPath, this.localPathOf(entry.components), operation, error);
    } finally {
      parent.release();
    }
  }

  /**
   * Creates directly, or under a temp name renamed over the existing entry when replace is asked. With a
   * kind, the entry made is checked and given its metadata through a handle before it takes its name.
   */
  private create(entry: Located, folderFd: number, name: Buffer, options: MakeOptions, kind: EntryKind, make: (createName: Buffer) => void): MadeEntry;
  private create(entry: Located, folderFd: number, name: Buffer, options: ReplaceOption, kind: undefined, make: (createName: Buffer) => void): void;
  private create(entry: Located, folderFd: number, name: Buffer, options: MakeOptions, kind: EntryKind | undefined,
    make: (createName: Buffer) => void): MadeEntry | undefined {
    const check = (createName: Buffer): MadeEntry | undefined => {
      if (kind === undefined) return undefined;
      const made = setMadeEntryMetadata(folderFd, createName, kind, options.metadata, this.owners);
      // Left as it is: it is not this restore's to remove.
      if (made === REPLACED) throw new EntryReplacedError(entry.entryPath, this.localPathOf(entry.components), `the ${kind} just made`);
      const localPath = this.localPathOf(entry.components);
      return { identity: made.identity, ...(made.failures.length > 0 ? { metadataMissing: new MetadataError(entry.entryPath, localPath, made.failures) } : {}) };
    };
    if (options.replace !== true) {
      make(name);
      return check(name);
    }
    const temp = this.withTempName((candidate) => make(candidate));
    try {
      const made = check(temp.name);
      renameIntoPlace(folderFd, temp.name, name, true);
      return made;
    } catch (error) {
      if (!(error instanceof EntryReplacedError)) unlinkAt(folderFd, temp.name);
      throw error;
    }
  }

  /**
   * A new file without a name in the folder (O_TMPFILE, 0600), or undefined where the file system cannot make
   * one (EOPNOTSUPP; EISDIR from a kernel without O_TMPFILE): then every later file takes a temporary name.
   */
  private unnamedFileIn(folderFd: number): number | undefined {
    if (!this.makesUnnamedFiles) return undefined;
    const { O_RDWR, O_TMPFILE } = posixConstants();
    try {
      return openAt(folderFd, '.', O_RDWR | O_TMPFILE, 0o600);
    } catch (error) {
      if (!UNNAMED_FILES_UNSUPPORTED.has((error as NodeJS.ErrnoException).code ?? '')) throw error;
      this.makesUnnamedFiles = false;
      return undefined;
    }
  }

  private withTempName<T>(make: (candidate: Buffer) => T): { name: Buffer; result: T } {
    for (let attempt = 0; ; attempt++) {
      // A random prefix per restore and a counter (fresh random bytes per file cost 17 µs each, 0.7 s of a
      // 40,000-file restore); after a clash, fresh random bytes, so names a local user guessed cannot block it.
      const unique = attempt === 0 ? `${this.tempPrefix}-${(this.tempCounter++).toString(36)}` : randomBytes(8).toString('hex');
      const name = Buffer.from(`.cpsbackup-${unique}.tmp`);
      try {
        return { name, result: make(name) };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 8) throw error;
      }
    }
  }
}
