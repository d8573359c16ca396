// Writes restored entries into a RestoreTree: folders (their metadata once their content is in),
// files through a temporary name checked against the backup's hash before they take their name,
// sparse files with their holes, hard links, symlinks and special files; an existing entry is kept
// or replaced by the overwrite policy (a file there is compared as its content arrives, and written
// only once found to differ). One bad entry never stops the others; a full disk or an interruption does.
import { closeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EntryType, type EntryMeta } from '../proto/cpsbackup';
import { CorruptError, DiskFullError, errorMessage } from '../common/errors';
import { escapeBytes } from '../common/escape-bytes';
import { entryKind, type PosixStat, statFd } from './posix/at';
import type { MadeEntry, RestoreTree } from './restore-tree/restore-tree';
import type { Inode } from './restore-tree/link-targets';
import type { TempFile } from './restore-tree/temp-file';
import { MetadataError, NeedsRootError, NotAFolderError, SymlinkInPathError, UnsafeEntryPathError } from './restore-tree/errors';
import { KEPT_INODE_FLAGS, PRIVILEGED_INODE_FLAGS, inodeFlagLetters } from './posix/inode-flags';
import { isAclCopy } from './posix/xattrs';
import { isAclNames } from './posix/acl-names';
import { type EntryMetadata, TimePrecisionError } from './restore-tree/metadata';
import type { OverwritePolicy } from './overwrite-policy';
import type { ContentEnd, ContentPiece, RestoreMessageItem } from './restore-messages';
import { ContentCheck } from './content-check';
import type { WrittenDump } from './sources/written-dump';
import { ExistingContentCompare } from './existing-content-compare';
import { type ContentSink, DISCARDED, tempFileSink } from './content-sink';
import { adjacentRuns } from './restore-decoding/adjacent-runs';
import { ExistingEntries, ownerOf, type RestoringUser } from './existing-entries';
import { isRestoredXattr, mtimeNsOf } from './metadata-difference';
import { ExtentCursor } from './extent-cursor';
import { isDumpEntry } from '../common/dump-entry';
import { isStrippedToTarget, strippedPath } from './strip-path';
import { isDumpPlace, type DumpPlace } from './dump-place';
import { DUMPS_FOLDER } from './sources/dump-names';
import { RestoredInodes } from './restored-inodes';
import { StrippedPaths } from './stripped-paths';

const SLASH = 0x2f;

export interface RestoreWriterOptions {
  /** Leading path components dropped from every entry (burp -s, borg --strip-components). */
  readonly strip: number;
  readonly overwrite: OverwritePolicy;
  readonly isRoot: boolean;
  /** Without root, the user the restored files belong to (a set-user-ID bit of their own is kept); none: all cleared. */
  readonly restoringUser?: RestoringUser;
  /**
   * Aborted (Ctrl-C): what the entry being written meets then (its read cancelled) is thrown, not
   * listed as its failure; the restore stops there, and that entry is as unreached as the ones after it.
   */
  readonly signal?: AbortSignal;
  /**
   * Where an entry marked as a dump is taken for one (replaced whatever the policy, listed for its loader); none:
   * nowhere. Elsewhere the mark (the server's word alone) makes an ordinary file, under the overwrite policy.
   */
  readonly dumpPlace?: DumpPlace;
}

export interface RestoreOutcome {
  files: number;
  /** Content bytes received and placed or compared: what moves the progress line. */
  bytes: number;
  /** Content bytes of the files written (new or replaced): what the summary says; a file found identical adds nothing. */
  writtenBytes: number;
  /** Entries asked for that are not restored as they are in the backup: exit 3. */
  readonly failures: string[];
  /** Entries left as they were on disk because they differ from the backup (overwrite policy). */
  readonly keptExisting: string[];
  /** Entries or attributes that need root here: skipped. */
  readonly needsRoot: string[];
  /** Dump files restored (FIFO content): original path and where they landed. */
  readonly dumpFiles: { readonly originalPath: string; readonly localPath: string; readonly written?: WrittenDump }[];
}

export class RestoreWriter {
  /**
   * isExisting: a folder that was there, whose own attributes the backup's replace. identity: the folder
   * made or found, the only one given the metadata (not whatever has its name by then).
   */
  private readonly folders: { path: Buffer; meta: EntryMeta; isExisting: boolean; identity: Inode }[] = [];
  /**
   * Folders this restore made (latin1 keys): made 0700 and holding only what this restore put there, so
   * an entry in one needs no look for something already in its place (an lstat per file, 5 % of a
   * restore's main thread). Should something be there anyway, the final rename refuses to replace it
   * (RENAME_NOREPLACE, or EEXIST from the create) and the entry is reported, never overwritten; found to
   * be an entry this restore put there (--strip, a case-insensitive target), as a collision (collisionIn).
   */
  private readonly madeFolders = new Set<string>();
  /**
   * Every inode this restore made (files, symlinks, special files, folders; a hard link's is its target's)
   * and the folders already there it took as the backup's: a second entry of the backup that reaches one
   * (--strip, a case-insensitive target) is a collision, never written over the first. A file, symlink or
   * special file found there identical is left out: another name of it (a hard link, a bind mount) is no collision.
   */
  private readonly restored = new RestoredInodes();
  /** With --strip, the paths entries were mapped to: a second entry on one collides even where the first was found there. */
  private readonly strippedPaths: StrippedPaths | undefined;
  /** The folders among them ("dev:ino" keys; folders only, a few per thousand files): the first's metadata. */
  private readonly restoredFolders = new Map<string, EntryMeta>();
  /** Entries not restored for a collision that a hard link may name (latin1 of their backup path; rare). */
  private readonly collidedEntries = new Set<string>();
  /**
   * Folders already there that are the backup's but for their mtime (latin1 keys; takesBackTimes), and
   * those of them this restore then created or replaced an entry in: their mtime moved with it, so the
   * backup's times are given back at the end (as tar and rsync do), which left them at the restore's time with exit 0.
   */
  private readonly keptFolders = new Map<string, BackupFolder>();
  private readonly writtenKeptFolders = new Map<string, BackupFolder>();
  /** With --strip, the folder that became the target (see isTargetFolder). */
  private strippedToTarget: EntryMeta | undefined;
  /**
   * Files, symlinks and special files (latin1 keys) whose place holds something other than the backup's
   * entry, kept by the policy or failed: a later hard link to one must not become a name for whatever is there.
   */
  private readonly keptFiles = new Set<string>();
  private readonly failedFiles = new Set<string>();
  /** Devices (latin1 keys) not made for want of root: a later link to one needs root too, and is no failure. */
  private readonly needsRootFiles = new Set<string>();
  /** Entries whose times the target kept to a coarser precision (TimePrecisionError): one line for all of them. */
  private readonly coarseTimes: { count: number; first: string | undefined } = { count: 0, first: undefined };
  readonly outcome: RestoreOutcome = { files: 0, bytes: 0, writtenBytes: 0, failures: [], keptExisting: [], needsRoot: [], dumpFiles: [] };
  private readonly existing: ExistingEntries;

  constructor(private readonly tree: RestoreTree, private readonly options: RestoreWriterOptions,
    private readonly onProgress: () => void = () => undefined) {
    this.existing = new ExistingEntries(tree, options, this.outcome.keptExisting);
    this.strippedPaths = options.strip > 0 ? new StrippedPaths() : undefined;
  }

  async write(item: RestoreMessageItem): Promise<void> {
    const meta = item.meta;
    let path: Buffer | undefined;
    try {
      path = this.mapped(meta.path, meta.type === EntryType.ENTRY_TYPE_DIRECTORY);
    } catch (error) {
      // A path --strip cannot cut at whole names ("//x", "/../x", "/x/"): refused, as the tree refuses it unstripped.
      if (!(error instanceof UnsafeEntryPathError)) throw error;
      this.outcome.failures.push(errorMessage(error));
      return;
    }
    if (path === undefined) {
      // The stripped folders go by design; anything else there would be lost without a word.
      if (meta.type !== EntryType.ENTRY_TYPE_DIRECTORY) {
        this.outcome.failures.push(`${escapeBytes(meta.path)}: not restored: it lies within the leading components that --strip ${this.options.strip} drops`);
      }
      return;
    }
    if (meta.type === EntryType.ENTRY_TYPE_DIRECTORY && isStrippedToTarget(path, this.options.strip) && !this.isTargetFolder(meta)) return;
    // The inode the entry's path holds for the backup, as the restore made or checked it (see noteRestored).
    const left: LeftEntry = {};
    try {
      this.checkStrippedPath(path, meta);
      switch (meta.type) {
        case EntryType.ENTRY_TYPE_DIRECTORY: this.folder(path, meta, item.isAboveSelection === true); return;
        case EntryType.ENTRY_TYPE_FILE:
        case EntryType.ENTRY_TYPE_FIFO_CONTENT:
          if (meta.hardlinkTarget.length > 0) this.hardLink(path, meta);
          else await this.file(path, meta, item, left);
          return;
        case EntryType.ENTRY_TYPE_SYMLINK:
          if (meta.hardlinkTarget.length > 0) this.hardLink(path, meta);
          else this.symlink(path, meta, left);
          return;
        case EntryType.ENTRY_TYPE_FIFO:
        case EntryType.ENTRY_TYPE_SOCKET:
        case EntryType.ENTRY_TYPE_CHAR_DEVICE:
        case EntryType.ENTRY_TYPE_BLOCK_DEVICE:
          if (meta.hardlinkTarget.length > 0) this.hardLink(path, meta);
          else this.special(path, meta, left);
          return;
        default: this.outcome.failures.push(`${this.tree.localPath(path)}: unknown entry type ${meta.type}`);
      }
    } catch (thrown) {
      if (this.options.signal?.aborted) throw thrown;
      const error = this.collisionIn(path, meta, thrown);
      if (error instanceof CollisionError) {
        // The path holds the first entry: what later hard links to the first find there; none may link to the second.
        if (meta.nlink !== 1) this.collidedEntries.add(meta.path.toString('latin1'));
        this.outcome.failures.push(errorMessage(error));
        return;
      }
      // An entry kept without some of its metadata is there under its name: its later hard links are made.
      if (meta.type !== EntryType.ENTRY_TYPE_DIRECTORY && !(error instanceof MetadataError)) {
        (error instanceof NeedsRootError ? this.needsRootFiles : this.failedFiles).add(path.toString('latin1'));
      }
      this.record(path, error);
    } finally {
      // Only what this restore made: an entry found there and taken as the backup's (identical) may be reached
      // again by another name of the same file, a bind mount in place (a review's false collision, exit 3).
      if (left.identity !== undefined && left.isFound !== true) this.restored.add(left.identity);
      // What later hard links to this entry must find at its path (kept with some metadata missing too).
      if (!this.collidedEntries.has(meta.path.toString('latin1'))) this.tree.noteRestored(meta, path, left.identity);
    }
  }

  /**
   * A create in a folder this restore made does not look first (existingAt): something there makes it fail
   * with EEXIST (or a folder's parent not a folder). Found to be this restore's own entry, that is a collision.
   */
  private collisionIn(path: Buffer, meta: EntryMeta, error: unknown): unknown {
    if (error instanceof CollisionError) return error;
    const code = (error as { systemCode?: string; code?: string }).systemCode ?? (error as NodeJS.ErrnoException).code;
    if (code !== 'EEXIST' && !(error instanceof NotAFolderError) && !(error instanceof SymlinkInPathError)) return error;
    let there: PosixStat | undefined;
    try {
      there = this.tree.stat(path);
    } catch {
      return error;
    }
    return there !== undefined && this.restored.has(there) ? this.collision(path, meta) : error;
  }

  /**
   * With --strip, a second entry mapped to the path of a first is a collision, whatever is there now: the
   * first may have been there already (a rerun), found identical or kept, which the inodes do not tell.
   * Two folders go on to folder(), where alike ones merge.
   */
  private checkStrippedPath(path: Buffer, meta: EntryMeta): void {
    if (this.strippedPaths === undefined) return;
    const kind = meta.type === EntryType.ENTRY_TYPE_DIRECTORY ? 'folder' : 'other';
    const first = this.strippedPaths.claim(path, kind);
    if (first === undefined || (first === 'folder' && kind === 'folder')) return;
    throw this.collision(path, meta);
  }

  /** Thrown where an entry reaches one this restore already made or restored (see restored). */
  private collision(path: Buffer, meta: EntryMeta, first?: EntryMeta): CollisionError {
    const by = this.options.strip > 0 ? `--strip ${this.options.strip}, or a file system here that takes two names for one`
      : 'a file system here that takes two names for one, as a case-insensitive one does';
    const which = first === undefined ? `${escapeBytes(meta.path)} and an entry of the backup before it`
      : `${escapeBytes(first.path)} and ${escapeBytes(meta.path)} of the backup`;
    const what = meta.type === EntryType.ENTRY_TYPE_DIRECTORY && first !== undefined
      ? `the first restored, the second's mode, owner, attributes and times not (what is in both is merged, each entry of it checked alike)`
      : `the first restored, the second not (under every --overwrite policy)`;
    return new CollisionError(`${this.tree.localPath(path)}: ${which} land on one path here (${by}): ${what}`);
  }

  /** Throws a CollisionError where the entry found at path is one this restore made or restored. */
  private checkNotRestored(path: Buffer, meta: EntryMeta, existing: PosixStat | undefined): void {
    if (existing !== undefined && this.restored.has(existing)) throw this.collision(path, meta, this.restoredFolders.get(inodeKey(existing)));
  }

  /**
   * Folders' metadata, deepest first: writing a folder's content would otherwise undo its mtime. Also
   * after a failed restore: a folder it made is 0700 and the restoring user's until then, and a rerun
   * would find it there and keep it. A second call does nothing.
   */
  finish(): void {
    for (const { path, meta, isExisting, identity } of this.folders.splice(0).reverse()) {
      try {
        const replaced = isExisting ? { replacesXattr: (name: Buffer) => isRestoredXattr(name, this.options.isRoot) } : {};
        this.tree.setFolderMetadata(path, identity, { ...this.metadataOf(path, meta), ...replaced });
      } catch (error) {
        this.record(path, error);
      }
    }
    for (const { path, meta, identity } of this.writtenKeptFolders.values()) {
      try {
        this.tree.setFolderMetadata(path, identity, { atimeNs: mtimeNsOf(meta), mtimeNs: mtimeNsOf(meta) });
      } catch (error) {
        this.record(path, error);
      }
    }
    this.writtenKeptFolders.clear();
    const { count, first } = this.coarseTimes;
    if (count > 0) {
      this.outcome.failures.push(`${count} ${count === 1 ? 'entry' : 'entries'} restored with a coarser mtime than the backup's `
        + `(the part below the second, or of it): the file system here keeps times to a coarser precision (first: ${first})`);
      this.coarseTimes.count = 0;
    }
  }

  /** lstat of what is at path now; nothing can be in a folder this restore made. */
  private existingAt(path: Buffer): PosixStat | undefined {
    const parent = path.subarray(0, path.lastIndexOf(SLASH));
    if (parent.length > 0 && this.madeFolders.has(parent.toString('latin1'))) return undefined;
    return this.tree.stat(path);
  }

  /**
   * With --strip, whether the folder at the cut gives the target its metadata: only a target this restore
   * made, and only the first such folder (--strip can make several the target: the others are reported).
   * A target that was there is the operator's folder and stays as it is, as tar leaves it.
   */
  private isTargetFolder(meta: EntryMeta): boolean {
    if (!this.tree.isRootMade) return false;
    const first = this.strippedToTarget;
    if (first === undefined) {
      this.strippedToTarget = meta;
      return true;
    }
    // Reported only where the target cannot be both: the same mode, owner and attributes merge quietly.
    if (!isSameFolderMetadata(first, meta)) {
      this.outcome.failures.push(`${escapeBytes(meta.path)}: its mode, owner or attributes not given to the target: --strip ${this.options.strip} `
        + `makes it the target as it made ${escapeBytes(first.path)} (whose they are); their contents are merged`);
    }
    return false;
  }

  /** Where an entry goes; with --strip, only a folder may become the target itself (nothing else can be it). */
  private mapped(path: Buffer, isFolder: boolean): Buffer | undefined {
    const stripped = strippedPath(path, this.options.strip);
    return stripped === undefined || (!isFolder && isStrippedToTarget(stripped, this.options.strip)) ? undefined : stripped;
  }

  /**
   * aboveSelection: a folder not asked for, sent only because something asked for lies below it. Made
   * when missing (with the backup's metadata, as tar and borg make them); one already there is not
   * asked for, so it is neither compared nor changed under any policy: restoring /srv/app with
   * --overwrite leaves / and /srv as they are (and a hostile server cannot chmod them through it), and
   * something else in such a folder's place (a symlink /home -> /data/home, a file) is never replaced.
   */
  private folder(path: Buffer, meta: EntryMeta, aboveSelection: boolean): void {
    const existing = this.existingAt(path);
    if (existing !== undefined && this.restored.has(existing)) {
      this.reachedRestored(path, meta, existing);
      return;
    }
    if (existing !== undefined && entryKind(existing.mode) !== 'folder') {
      if (aboveSelection) {
        this.outcome.failures.push(`${this.tree.localPath(path)}: a ${entryKind(existing.mode)} where the backup has a folder above what was asked for; `
          + 'left as it is under every policy, so nothing asked for below it is restored');
        return;
      }
      if (this.existing.decide(path, existing, false, meta) !== 'write') return;
      this.tree.remove(path);
    }
    const isRoot = path.length === 1 && path[0] === SLASH;
    // A --to folder that was there is the operator's and stays as it is, under every policy (as with --strip).
    if (isRoot && this.tree.rootPath !== '/' && !this.tree.isRootMade) return;
    // The backup's "/" restored --to a folder this restore made is that folder's metadata.
    const isMadeRoot = isRoot && this.tree.isRootMade;
    const made = this.tree.makeFolder(path);
    if (!made.created && this.restored.has(made.identity)) {
      this.reachedRestored(path, meta, made.identity);
      return;
    }
    if (made.created || isMadeRoot) {
      this.wroteIn(path);
      this.madeFolders.add(path.toString('latin1'));
      this.folders.push({ path, meta, isExisting: false, identity: made.identity });
      this.noteFolder(made.identity, meta);
      return;
    }
    if (aboveSelection) return;
    const folder = this.tree.stat(path);
    if (folder === undefined) return;
    // The folder judged here is the one whose attributes are replaced or times given back at the end.
    const identity = { dev: folder.dev, ino: folder.ino };
    const decision = this.existing.folderDecision(path, folder, meta);
    if (decision === 'replace') this.folders.push({ path, meta, isExisting: true, identity });
    else if (decision === 'same' && this.takesBackTimes(folder, meta)) this.keptFolders.set(path.toString('latin1'), { path, meta, identity });
    if (decision === 'replace' || decision === 'same') this.noteFolder(identity, meta);
  }

  /** A folder this restore made, or took as the backup's: a second folder reaching it is compared with this one. */
  private noteFolder(identity: Inode, meta: EntryMeta): void {
    this.restored.add(identity);
    this.restoredFolders.set(inodeKey(identity), meta);
  }

  /**
   * A folder of the backup reaching an entry this restore made or restored. Another folder alike (mode,
   * owner, attributes; times aside) merges quietly, as --strip merges the folders that become the target;
   * one unlike it, or anything but a folder, is a collision: the first keeps its metadata, under every policy.
   */
  private reachedRestored(path: Buffer, meta: EntryMeta, there: Inode): void {
    const first = this.restoredFolders.get(inodeKey(there));
    if (first !== undefined && isSameFolderMetadata(first, meta)) return;
    throw this.collision(path, meta, first);
  }

  /**
   * Whether a folder there that is the backup's but for its mtime gets the backup's times back once
   * written into: not under if-newer when it is newer. One kept for what differs is kept as it is, times too.
   */
  private takesBackTimes(folder: PosixStat, meta: EntryMeta): boolean {
    if (this.options.overwrite === 'if-newer' && folder.mtimeNs > mtimeNsOf(meta)) return false;
    // Only its owner (or root) may set a folder's times: without root another user's folder would fail
    // with EPERM, a false exit 3 for a restore into a shared folder (review).
    return this.options.isRoot || folder.uid === this.options.restoringUser?.uid;
  }

  /** An entry was made or replaced at path (or a temporary file in its folder): its folder's mtime moved. */
  private wroteIn(path: Buffer): void {
    if (this.keptFolders.size === 0) return;
    const slash = path.lastIndexOf(SLASH);
    const key = slash <= 0 ? '/' : path.subarray(0, slash).toString('latin1');
    const folder = this.keptFolders.get(key);
    if (folder !== undefined) this.writtenKeptFolders.set(key, folder);
  }

  private async file(path: Buffer, meta: EntryMeta, item: RestoreMessageItem, left: LeftEntry): Promise<void> {
    const bytesBefore = this.outcome.bytes;
    const isDump = this.isDump(meta);
    const existing = this.existingAt(path);
    this.checkNotRestored(path, meta, existing);
    if (existing !== undefined && entryKind(existing.mode) === 'folder') {
      throw new CorruptError(`${this.tree.localPath(path)}: a folder is in the way; not restored`);
    }
    // Dump files are this tool's own work files: always replaced, never compared.
    // Under every policy: a file identical to the backup's is left as it is (--overwrite replaces what differs),
    // so its inode, and the links it has outside the restore, stay.
    const isCompared = !isDump && existing !== undefined && entryKind(existing.mode) === 'file';
    const difference = isCompared ? this.existing.differenceOf(path, existing, meta, { mtime: true }) : undefined;
    const isSameSize = existing !== undefined && existing.size === meta.size;
    // Decided before anything is written: a copy of a file found identical filled nearly full disks and
    // touched live folders. A difference the policy keeps anyway (a symlink or FIFO there too) is never written at all.
    const isDifferenceWritten = isDump || existing === undefined || this.existing.replacesIfDifferent(existing, meta);
    // The inode judged above, or none (then it is not found identical): see openExistingFile.
    const existingFd = isCompared && difference === undefined && isSameSize ? this.tree.openExistingFile(path, existing) : undefined;
    let temp: TempFile | undefined;
    let isDone = false;
    try {
      const compare = existingFd === undefined ? undefined : new ExistingContentCompare(existingFd, meta,
        isDifferenceWritten ? () => this.tree.createFile(path) : undefined, { entryPath: path, localPath: () => this.tree.localPath(path) });
      if (compare === undefined && isDifferenceWritten) temp = this.tree.createFile(path);
      const sink = (isInline: boolean): ContentSink => compare ?? (temp === undefined ? DISCARDED : tempFileSink(temp, meta, isInline));
      const check = new ContentCheck(isDump);
      let end: ContentEnd | undefined;
      try {
        end = item.inline !== undefined ? await this.writeInline(sink(true), meta, item.inline.content, check) : await this.writeStreamed(sink(false), meta, item, check);
      } finally {
        temp ??= compare?.written;
      }
      const expected = end ?? { sha256: item.inline!.sha256, size: check.size, damage: '' };
      if (expected.damage) throw new CorruptError(`not restored, the store is damaged: ${expected.damage}`);
      if (!check.matches(expected.sha256, expected.size)) {
        throw new CorruptError(`received content does not match its hash (${check.size} of ${expected.size} bytes)`);
      }
      const isIdentical = compare?.isIdentical ?? false;
      const decision = existing === undefined || isDump ? 'write'
        : this.existing.decide(path, existing, isIdentical, meta, isSameSize ? difference : undefined);
      if (decision !== 'write') {
        if (!isIdentical) this.keptFiles.add(path.toString('latin1'));
        // The file whose content was compared, through the fd it was read by.
        else if (existingFd !== undefined) {
          left.identity = statFd(existingFd);
          left.isFound = true;
        }
        return;
      }
      if (temp === undefined) throw new Error(`${this.tree.localPath(path)}: to be replaced, but its content was not written (a bug)`);
      const metadataMissing = this.setFileMetadata(temp, this.metadataOf(path, isDump ? { ...meta, mode: 0o600 } : meta));
      const identity = temp.identity();
      const flagsMissing = temp.commit({ replace: existing !== undefined });
      // Only once it has its name: a temp file refused one (EEXIST) is gone, and its inode number free again.
      left.identity = identity;
      isDone = true;
      this.outcome.files++;
      this.outcome.writtenBytes += this.outcome.bytes - bytesBefore;
      if (isDump) {
        const root = this.tree.rootPath === '/' ? '' : this.tree.rootPath;
        this.outcome.dumpFiles.push({ originalPath: meta.path.toString('utf8'), localPath: `${root}${path.toString('utf8')}`,
          written: { dev: identity.dev, ino: identity.ino, size: check.size, sha256: check.bytesSha256() ?? '' } });
      }
      if (metadataMissing !== undefined || flagsMissing !== undefined) {
        const failures = [...(metadataMissing?.failures ?? []), ...(flagsMissing?.failures ?? [])];
        throw new MetadataError(path, this.tree.localPath(path), failures);
      }
    } finally {
      const leftBehind = isDone ? undefined : temp?.abort();
      if (leftBehind !== undefined) this.outcome.failures.push(leftBehind);
      if (existingFd !== undefined) closeSync(existingFd);
      if (temp !== undefined) this.wroteIn(path);
    }
  }

  /**
   * A dump only in its place: marked so anywhere else (a broken or hostile server's way past --overwrite,
   * or a backup made with another work_directory) it is restored as any file, not loaded, and said so.
   */
  private isDump(meta: EntryMeta): boolean {
    if (!isDumpEntry(meta)) return false;
    const place = this.options.dumpPlace;
    if (place !== undefined && isDumpPlace(meta.path, place)) return true;
    const where = place === undefined ? 'this restore takes no dumps' : place === 'any dumps folder' ? 'not in a folder named dumps'
      : `not in ${join(resolve(place.workDirectory), DUMPS_FOLDER)}/<source>/, where this node's dumps are`;
    this.outcome.failures.push(`${escapeBytes(meta.path)}: marked as a dump, but ${where}: restored as an ordinary file (the overwrite policy applies), not loaded`);
    return false;
  }

  /**
   * The metadata that can be set; what cannot is returned to be listed once the file has its name. Its
   * content is verified, so it is kept, as tar and rsync keep a file whose owner or ACL they cannot give
   * (with no more access than it had: narrowedMode). Regression: such a file was deleted, so a restore
   * onto a target without xattrs or ACLs (sshfs, NFSv3, vfat) gave back none of the files that had any.
   */
  private setFileMetadata(temp: TempFile, metadata: EntryMetadata): MetadataError | undefined {
    try {
      temp.setMetadata(metadata);
      return undefined;
    } catch (error) {
      if (error instanceof MetadataError) return error;
      throw error;
    }
  }

  /** A small file: placed once its chunks are decoded (usually ahead, on a worker thread). */
  private async writeInline(sink: ContentSink, meta: EntryMeta, content: ContentPiece, check: ContentCheck): Promise<undefined> {
    const cursor = new ExtentCursor(meta);
    const piece = await check.bytesOfPiece(content);
    try {
      for (const bytes of adjacentRuns(piece.bytes)) {
        for (const { data, position } of cursor.place(bytes)) {
          const placing = sink.place(data, position);
          if (placing !== undefined) await placing;
        }
        this.outcome.bytes += bytes.length;
      }
    } finally {
      piece.release();
    }
    const ending = sink.end();
    if (ending !== undefined) await ending;
    this.onProgress();
    return undefined;
  }

  private async writeStreamed(sink: ContentSink, meta: EntryMeta, item: RestoreMessageItem, check: ContentCheck): Promise<ContentEnd> {
    const cursor = new ExtentCursor(meta);
    const frames = item.stream!.frames();
    for (;;) {
      const next = await frames.next();
      if (next.done) {
        await sink.end();
        return next.value;
      }
      const piece = await check.bytesOfPiece(next.value);
      try {
        for (const bytes of adjacentRuns(piece.bytes)) {
          for (const { data, position } of cursor.place(bytes)) await sink.place(data, position);
          this.outcome.bytes += bytes.length;
        }
      } finally {
        piece.release();
      }
      this.onProgress();
    }
  }

  private hardLink(path: Buffer, meta: EntryMeta): void {
    const target = this.mapped(meta.hardlinkTarget, false);
    if (target === undefined) throw new CorruptError(`${this.tree.localPath(path)}: its hard link target was stripped away; not restored`);
    const targetKey = target.toString('latin1');
    // Before looking at the target's path, which may be what made it fail (a symlink or a file on its way).
    if (this.needsRootFiles.has(targetKey)) throw new NeedsRootError(path, `a link to the device ${this.tree.localPath(target)}`);
    if (this.failedFiles.has(targetKey)) {
      throw new CorruptError(`not linked: its hard link target ${this.tree.localPath(target)} was not restored (see above)`);
    }
    // Its first name met another entry of the backup there (see collision): that path holds the other's inode.
    if (this.collidedEntries.has(meta.hardlinkTarget.toString('latin1'))) {
      throw new CorruptError(`not linked: its hard link target ${escapeBytes(meta.hardlinkTarget)} of the backup was not restored (see above)`);
    }
    const existing = this.existingAt(path);
    this.checkNotRestored(path, meta, existing);
    const linked = this.tree.stat(target);
    if (existing !== undefined && linked !== undefined && existing.ino === linked.ino && existing.dev === linked.dev) return;
    if (this.keptFiles.has(targetKey)) {
      this.outcome.keptExisting.push(`${this.tree.localPath(path)}: not linked to ${this.tree.localPath(target)}, which was kept as it is (--overwrite replaces both)`);
      return;
    }
    if (existing !== undefined && this.existing.decide(path, existing, false, meta, `not a hard link to ${this.tree.localPath(target)} as in the backup`) !== 'write') return;
    this.tree.makeHardLink(target, path, { replace: existing !== undefined, firstName: meta.hardlinkTarget });
    this.wroteIn(path);
    this.outcome.files++;
  }

  private symlink(path: Buffer, meta: EntryMeta, left: LeftEntry): void {
    const existing = this.existingAt(path);
    this.checkNotRestored(path, meta, existing);
    if (existing !== undefined) {
      const difference = entryKind(existing.mode) !== 'symlink' ? `a ${entryKind(existing.mode)} where the backup has a symlink`
        : !this.tree.readLink(path).equals(meta.linkTarget) ? 'another link target'
          : this.existing.differenceOf(path, existing, meta, { mtime: true, mode: false });
      if (this.existing.decide(path, existing, difference === undefined, meta, difference) !== 'write') {
        if (difference !== undefined) this.keptFiles.add(path.toString('latin1'));
        else {
          left.identity = existing;
          left.isFound = true;
        }
        return;
      }
    }
    // Its metadata set through a handle of the link just made, never by name afterwards (see MakeOptions).
    this.made(path, left, this.tree.makeSymlink(path, meta.linkTarget, { replace: existing !== undefined, metadata: this.metadataOf(path, meta) }));
  }

  private made(path: Buffer, left: LeftEntry, made: MadeEntry): void {
    this.wroteIn(path);
    left.identity = made.identity;
    if (made.metadataMissing !== undefined) throw made.metadataMissing;
  }

  private special(path: Buffer, meta: EntryMeta, left: LeftEntry): void {
    const existing = this.existingAt(path);
    this.checkNotRestored(path, meta, existing);
    const kind = SPECIAL_KINDS[meta.type]!;
    if (existing !== undefined) {
      const difference = entryKind(existing.mode) !== kind ? `a ${entryKind(existing.mode)} where the backup has a ${kind}`
        : kind !== 'fifo' && kind !== 'socket' && Number(existing.rdev) !== meta.rdev ? 'another device number'
          : this.existing.differenceOf(path, existing, meta, { mtime: true });
      if (this.existing.decide(path, existing, difference === undefined, meta, difference) !== 'write') {
        if (difference !== undefined) this.keptFiles.add(path.toString('latin1'));
        else {
          left.identity = existing;
          left.isFound = true;
        }
        return;
      }
    }
    const options = { replace: existing !== undefined, metadata: this.metadataOf(path, meta) };
    this.made(path, left, kind === 'fifo' ? this.tree.makeFifo(path, 0o600, options)
      : kind === 'socket' ? this.tree.makeSocket(path, 0o600, options)
        : this.tree.makeDevice(path, kind === 'char-device' ? 'char' : 'block', BigInt(meta.rdev), 0o600, options));
  }

  /** The metadata the restore gives an entry it makes or replaces (called once for each). */
  private metadataOf(path: Buffer, meta: EntryMeta): EntryMetadata {
    const mtimeNs = mtimeNsOf(meta);
    const mode = this.existing.modeGiven(meta);
    // The server could not decode the entry's attribute list (catalog damage): the backup's attributes are unknown,
    // so none are set and none removed (an existing folder keeps its own, never stripped as "not in the backup").
    if (meta.damage) {
      this.outcome.failures.push(`${this.tree.localPath(path)}: its extended attributes and ACLs are not restored: ${meta.damage}`);
      return { ...(this.options.isRoot ? { owner: ownerOf(meta) } : {}), mode, atimeNs: mtimeNs, mtimeNs, ...this.inodeFlagsOf(path, meta) };
    }
    if (mode !== meta.mode) {
      this.outcome.needsRoot.push(`${this.tree.localPath(path)}: set-user-ID/set-group-ID bits need root (the owner is not restored); cleared`);
    }
    // Without root only user.* attributes and ACLs can be set; the rest is reported, not faked.
    const xattrs = this.existing.xattrsGiven(meta);
    // XFS's copies of the ACLs, which an older backup may hold, are left out on purpose (see isAclCopy): not a gap.
    // The names of the ACLs' users and groups are no attribute of the file (acl-names.ts): never a gap either.
    const given = new Set(xattrs.map((xattr) => xattr.name.toString('latin1')));
    for (const skipped of meta.xattrs.filter((xattr) => !given.has(xattr.name.toString('latin1')) && !isAclCopy(xattr.name) && !isAclNames(xattr.name))) {
      this.outcome.needsRoot.push(`${this.tree.localPath(path)}: extended attribute ${escapeBytes(skipped.name)} needs root`);
    }
    return {
      // Without root a restore cannot give files away; they stay the restoring user's, as with tar.
      ...(this.options.isRoot ? { owner: ownerOf(meta) } : {}),
      mode, xattrs, atimeNs: mtimeNs, mtimeNs,
      ...this.inodeFlagsOf(path, meta),
    };
  }

  /**
   * The inode flags to set: exactly the backup's where it knows them (0 clears those a new entry took from
   * its folder, such as d or A, so that a restore onto it again finds nothing to change); none where it
   * does not (a backup from before they were kept): the entry keeps its own. A file of several links is not made immutable
   * or append-only: its other links are made after it, and link(2) refuses such a file (listed, exit 3).
   */
  private inodeFlagsOf(path: Buffer, meta: EntryMeta): Pick<EntryMetadata, 'inodeFlags'> {
    // Only the kept ones: a server's entry may carry others, which no restore sets.
    const inodeFlags = meta.inodeFlags & KEPT_INODE_FLAGS;
    if (!meta.inodeFlagsKnown || (meta.type !== EntryType.ENTRY_TYPE_FILE && meta.type !== EntryType.ENTRY_TYPE_DIRECTORY)) return {};
    if (meta.type === EntryType.ENTRY_TYPE_FILE && meta.nlink > 1 && (inodeFlags & PRIVILEGED_INODE_FLAGS) !== 0) {
      const left = inodeFlags & PRIVILEGED_INODE_FLAGS;
      this.outcome.failures.push(`${this.tree.localPath(path)}: inode flags ${inodeFlagLetters(left)} left off: the file has ${meta.nlink} links, and a link cannot be made to an immutable or append-only file`);
      return { inodeFlags: inodeFlags & ~PRIVILEGED_INODE_FLAGS };
    }
    return { inodeFlags };
  }

  private record(path: Buffer, error: unknown): void {
    if (error instanceof MetadataError && error.failures.every((failure) => failure.error instanceof TimePrecisionError)) {
      // Every entry of a target of whole seconds has it: one line for them all, said by finish().
      this.coarseTimes.count++;
      this.coarseTimes.first ??= this.tree.localPath(path);
      return;
    }
    const code = (error as { systemCode?: string; code?: string }).systemCode ?? (error as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      throw new DiskFullError(`restore target is full: cannot write ${this.tree.localPath(path)} (${code}); nothing was left under its final name`, { cause: error });
    }
    if (error instanceof NeedsRootError) {
      this.outcome.needsRoot.push(errorMessage(error));
      return;
    }
    const message = errorMessage(error);
    const localPath = this.tree.localPath(path);
    this.outcome.failures.push(message.includes(localPath) ? message : `${localPath}: ${message}`);
  }
}

interface BackupFolder {
  readonly path: Buffer;
  readonly meta: EntryMeta;
  /** The folder found there, the only one whose times are given back. */
  readonly identity: Inode;
}

/** What a restored entry's path holds for later hard links to it; undefined where the restore knows no inode of its own. */
interface LeftEntry {
  identity?: Inode;
  /** Found there and kept (identical), not made: not one of `restored` (another name may reach it). */
  isFound?: boolean;
}

/** An entry reaching one this restore already made or restored (see RestoreWriter.collision). */
class CollisionError extends Error {}

function inodeKey(inode: Inode): string {
  return `${inode.dev}:${inode.ino}`;
}

const SPECIAL_KINDS: Partial<Record<EntryType, 'fifo' | 'socket' | 'char-device' | 'block-device'>> = {
  [EntryType.ENTRY_TYPE_FIFO]: 'fifo',
  [EntryType.ENTRY_TYPE_SOCKET]: 'socket',
  [EntryType.ENTRY_TYPE_CHAR_DEVICE]: 'char-device',
  [EntryType.ENTRY_TYPE_BLOCK_DEVICE]: 'block-device',
};

/** Mode, owner and attributes alike (times aside): two folders that would give a target the same. */
function isSameFolderMetadata(a: EntryMeta, b: EntryMeta): boolean {
  return (a.mode & 0o7777) === (b.mode & 0o7777) && a.uid === b.uid && a.gid === b.gid && a.user === b.user && a.group === b.group
    && a.xattrs.length === b.xattrs.length
    && a.xattrs.every((xattr, index) => xattr.name.equals(b.xattrs[index].name) && xattr.value.equals(b.xattrs[index].value));
}
