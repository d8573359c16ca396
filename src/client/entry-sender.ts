// Sends one walked entry the cheapest faithful way: nothing of its own when the parent holds it
// exactly as it is (it joins a carried run), a reference when only its content is unchanged, a hard
// link to an earlier path of the same inode as it was then (else on its own, with a warning when a link
// is lost), metadata alone for folders, links and special files, a small file's content inline in a
// batch, a big one streamed. A file that cannot be read, or whose metadata (its xattrs) is more than one
// backup entry can carry, is reported and left out; one that changed while read is sent as read, with
// a warning; one cut shorter while read is read once more, and reported if it shrinks again; one whose
// name was given to another file since the walk is sent as that file, with a warning, or left out and
// reported when it is no regular file any more.
import { closeSync } from 'node:fs';
import type { CarriedRun, EntryMeta, Xattr } from '../proto/cpsbackup';
import { EntryType } from '../proto/cpsbackup';
import type { EntrySink } from '../common/wire/entry-batcher';
import { batchedEntry } from '../common/wire/batched-entry';
import { INLINE_MAX_CONTENT } from '../common/wire/fast-service';
import { escapeBytes } from '../common/escape-bytes';
import { entryMetadataProblem } from '../common/entry-limits';
import type { UploadStream } from './upload-stream';
import { sendContent, UnreadableContentError } from './content-sender';
import { isCarriable, isUnchanged, withRacyCtime } from './entry-meta';
import { NOT_YET, type ParentIndex, type RankedParentFile } from './parent-index';
import { CarriedRuns } from './carried-runs';
import { LinkedInodes } from './linked-inodes';
import { lostHardLinkWarning } from './lost-hard-link';
import { FileContent, FileReadError, ShrankWhileReadError } from './file-content';
import { FifoContent } from './fifo-content';
import type { StopReading } from './stop-reading';
import { openedFile } from './replaced-file';
import { describe, EntryChangedError, EntryVanishedError, type WalkedEntry } from './walker';
import { readXattrs } from './posix/xattrs';
import { statFd, type PosixStat } from './posix/at';
import { isNeverCleanedFileSystem } from './posix/mapped-pages';
import type { ChunkUploader } from './chunking/chunk-uploader';


export interface SendProgress {
  files: number;
  bytesRead: number;
  unchangedFiles: number;
  /** Unchanged files in carried runs: the server copied their parent's entries, none of them crossed the wire. */
  carriedFiles: number;
  readonly warnings: string[];
  readonly unreadable: { readonly path: string; readonly reason: string }[];
  readonly changedWhileRead: string[];
  /** File content that crossed the wire: compressed chunks the server lacked, or every byte read when the server chunks. */
  sentBytes: number;
}

export class EntrySender {
  /** First path sent of each inode with several links, and what that inode was when sent. */
  private readonly linkedInodes = new LinkedInodes();
  /** Set when the server copies runs of unchanged files from the parent. */
  private readonly carriedRuns: CarriedRuns | undefined;
  /**
   * Whether each of the parent's lists of ACLs (one object per distinct list, parent-index.ts) names
   * its ids as this machine does now: the walk resolves each id once, so the answer holds all backup.
   * Checked per file, a tree whose every file had an ACL spent half as much again on a no-change backup.
   */
  private readonly currentAclNames = new Map<readonly Xattr[], boolean>();
  /** Per device: whether its file system never lets a mapping's writes show in a ctime (isOnNeverCleanedFileSystem). */
  private readonly neverCleanedByDevice = new Map<bigint, boolean>();

  /** chunks: set when this client cuts chunks itself; then batcher is that uploader too. */
  constructor(
    private readonly stream: UploadStream,
    private readonly batcher: EntrySink,
    private readonly parent: ParentIndex,
    private readonly progress: SendProgress,
    private readonly chunks?: ChunkUploader,
    /** Ends a FIFO read waiting on a stalled writer once the upload failed or the backup was interrupted. */
    private readonly stopReading?: StopReading,
  ) {
    this.carriedRuns = parent.acceptsCarriedRuns ? new CarriedRuns() : undefined;
  }

  /**
   * Sends one walked entry; undefined when nothing had to wait. Most files of a no-change backup join
   * the carried run being gathered: for them no promise is made (send's promises were 17 of the 122 MB
   * a no-change backup of 20,572 files allocated).
   */
  send(walked: WalkedEntry): Promise<void> | undefined {
    const meta = walked.meta;
    // Files of one link only (a later link names its first path, recorded in sendEntry), and only once
    // the index has reached them.
    if (meta.type === EntryType.ENTRY_TYPE_FILE && meta.nlink === 1) {
      const parentFile = this.parent.lookup(meta.path);
      const joined = parentFile === NOT_YET ? false : this.joinCarriedRun(walked, parentFile);
      if (joined !== false) return joined;
    }
    return this.sendEntry(walked);
  }

  /**
   * An unchanged file the parent holds exactly as it is joins the carried run being gathered, counted
   * here; false when it cannot. The promise: the run it closed, being sent.
   */
  private joinCarriedRun(walked: WalkedEntry, parentFile: RankedParentFile | undefined): Promise<void> | undefined | false {
    const meta = walked.meta;
    if (this.carriedRuns === undefined || !this.isSameAsParent(walked, parentFile) || !isCarriable(meta, parentFile!)) return false;
    const closed = this.carriedRuns.add(meta.path, parentFile!.rank);
    this.progress.carriedFiles++;
    this.progress.files++;
    this.progress.unchangedFiles++;
    return closed === undefined ? undefined : this.sendCarried(closed);
  }

  /**
   * The parent holds this file's content and attributes as they are now: unchanged (entry-meta.ts),
   * and the names its ACLs were stored with are still this machine's names for their ids. A user or
   * group renamed, or its name given to another id, changes nothing in the file's stat; its parent's
   * names, taken over, gave the permission to another user at the restore. Looked up only for a file
   * whose parent holds an ACL (the server sends its ACLs then; an older server never: as before).
   */
  private isSameAsParent(walked: WalkedEntry, parentFile: RankedParentFile | undefined): boolean {
    if (!isUnchanged(walked.meta, parentFile) || this.isOnNeverCleanedFileSystem(walked)) return false;
    const stored = parentFile!.aclXattrs;
    if (stored === undefined) return true;
    let isCurrent = this.currentAclNames.get(stored);
    if (isCurrent === undefined) {
      isCurrent = walked.hasCurrentAclNames(stored);
      this.currentAclNames.set(stored, isCurrent);
    }
    return isCurrent;
  }

  /**
   * Whether the file is where a write through a mapping may never move its ctime (mapped-pages.ts): read
   * again every backup. Not only through the racy ctime its read records: a file recorded by a client
   * before this rule would have been carried for ever. Known by device, asked once a device.
   */
  private isOnNeverCleanedFileSystem(walked: WalkedEntry): boolean {
    let isNeverCleaned = this.neverCleanedByDevice.get(walked.stats.dev);
    if (isNeverCleaned === undefined) {
      try {
        isNeverCleaned = isNeverCleanedFileSystem(walked.folderFileSystemType());
      } catch {
        isNeverCleaned = true;
      }
      this.neverCleanedByDevice.set(walked.stats.dev, isNeverCleaned);
    }
    return isNeverCleaned;
  }

  private async sendEntry(walked: WalkedEntry): Promise<void> {
    const meta = walked.meta;
    // Escaped only for a message: done for every entry, it cost more than many of the checks.
    const shown = (): string => escapeBytes(meta.path);
    if (meta.type !== EntryType.ENTRY_TYPE_FILE && meta.type !== EntryType.ENTRY_TYPE_FIFO_CONTENT) {
      await this.sendWithoutContent(walked, shown);
      return;
    }
    const laterLink = this.linkedInodes.laterLink(walked.stats, meta);
    if (laterLink?.kind === 'link') {
      await this.batcher.add(batchedEntry(laterLink.meta));
      this.progress.files++;
      return;
    }
    if (laterLink?.kind === 'changed') this.warnIfLinkLost(walked, laterLink.firstPath);
    const known = this.parent.lookup(meta.path);
    const parentFile = known === NOT_YET ? await this.parent.get(meta.path) : known;
    const joined = this.joinCarriedRun(walked, parentFile);
    if (joined !== false) {
      await joined;
      return;
    }
    if (this.isSameAsParent(walked, parentFile)) {
      await this.batcher.add(batchedEntry(meta, { sameAsParent: true }));
      this.progress.files++;
      this.progress.unchangedFiles++;
      this.linkedInodes.remember(walked.stats, meta, false);
      return;
    }
    if (meta.type === EntryType.ENTRY_TYPE_FIFO_CONTENT) {
      await this.sendFifo(walked, shown);
      return;
    }
    const sent = await this.sendFile(walked, shown);
    if (sent !== undefined) this.linkedInodes.remember(walked.stats, sent.read, sent.isRacy);
  }

  /**
   * A folder, symlink or special file: metadata alone. A later link of a symlink or special file names
   * its first path, its attributes not read again: the server gives it the first path's.
   */
  private async sendWithoutContent(walked: WalkedEntry, shown: () => string): Promise<void> {
    const laterLink = this.linkedInodes.laterLink(walked.stats, walked.meta);
    if (laterLink?.kind === 'link') {
      await this.batcher.add(batchedEntry(laterLink.meta));
      return;
    }
    if (laterLink?.kind === 'changed') this.warnIfLinkLost(walked, laterLink.firstPath);
    const attributes = this.orReported(() => walked.readAttributes(), shown, walked);
    if (attributes === undefined) return;
    const withXattrs: EntryMeta = { ...attributes.meta, xattrs: attributes.xattrs, inodeFlags: attributes.inodeFlags, inodeFlagsKnown: attributes.inodeFlagsKnown };
    if (this.isTooBig(withXattrs, shown)) return;
    if (attributes.hasChanged) this.progress.warnings.push(`${shown()}: changed while it was read (stored as it was then)`);
    await this.batcher.add(batchedEntry(withXattrs));
    this.linkedInodes.remember(walked.stats, attributes.meta, false);
    walked.noteRead();
  }

  /** Sends the carried run still gathering; call after the last entry. */
  async finish(): Promise<void> {
    await this.sendCarried(this.carriedRuns?.close());
  }

  private async sendCarried(run: CarriedRun | undefined): Promise<void> {
    if (run !== undefined) await this.batcher.add(batchedEntry(undefined, { carried: run }));
  }

  /**
   * What read() gives (the xattrs, or more), or undefined with the entry reported unreadable; one gone
   * by name is the walk's to report at its end (it may have moved, and be read in its new place).
   */
  private orReported<T>(read: () => T, shown: () => string, walked?: WalkedEntry, what = 'extended attributes'): T | undefined {
    try {
      return read();
    } catch (error) {
      if (error instanceof EntryVanishedError && walked !== undefined) walked.reportVanished();
      else this.unreadable(shown, error instanceof EntryChangedError ? error.message : `cannot read its ${what} (${describe(error)})`);
      return undefined;
    }
  }

  /**
   * The walked inode's entry as read (its ctime not offset yet) once sent, and whether it went with a
   * racy ctime: a later link to it may then name this path. Undefined when it was not sent, or another
   * inode than the walked one was.
   */
  private async sendFile(walked: WalkedEntry, shown: () => string): Promise<{ read: EntryMeta; isRacy: boolean } | undefined> {
    let content: FileContent;
    try {
      content = FileContent.open(walked.open());
    } catch (error) {
      if (describe(error) === 'ENOENT') walked.reportVanished();
      else this.unreadable(shown, `cannot be read (${describe(error)})`);
      return undefined;
    }
    try {
      let sent = await this.sendContentOf(walked, content, shown, false);
      if (sent instanceof ShrankWhileReadError) {
        // Truncated while it was read (log rotation's copytruncate, a rewrite): what was read is neither
        // the old file nor the new one. Read once more, as it is now; a file that shrinks again is not
        // in this backup, and said so.
        content = content.readAgain(sent);
        sent = await this.sendContentOf(walked, content, shown, true);
        if (sent instanceof ShrankWhileReadError) {
          this.unreadable(shown, 'it shrank while it was read, and again when it was read a second time');
          return undefined;
        }
        // A file that reads short of its size by nature (sysfs) read the same twice: nothing changed.
        if (sent !== undefined && !content.isShortByNature) {
          if (!this.progress.changedWhileRead.includes(shown())) this.progress.changedWhileRead.push(shown());
          this.progress.warnings.push(`${shown()}: file shrank while being read (read again and stored as it was then)`);
        }
      }
      if (sent === undefined) return undefined;
      this.progress.files++;
      // Another inode than the walk's: a later path linked to the walked one must not name this one.
      if (sent.isReplaced) return undefined;
      walked.noteRead(content.fd);
      return { read: sent.read, isRacy: content.isRecentlyChanged };
    } catch (error) {
      this.listFailedRead(error, shown);
      return undefined;
    } finally {
      content.close();
    }
  }

  /**
   * One read of an open file, sent: what was sent (undefined when the file was reported instead), or
   * the ShrankWhileReadError of a read cut short, nothing of it kept (the server was told to drop a
   * streamed entry; a chunked one's entry was never sent). `isSecondRead`: the first said what it had to.
   */
  private async sendContentOf(walked: WalkedEntry, content: FileContent, shown: () => string, isSecondRead: boolean):
    Promise<{ read: EntryMeta; isReplaced: boolean } | ShrankWhileReadError | undefined> {
    const described = this.describeOpened(walked, content.statAtOpen, shown, !isSecondRead);
    if (described === undefined) return undefined;
    const xattrs = this.orReported(() => walked.withAclNames(content.readXattrs()), shown);
    if (xattrs === undefined) return undefined;
    const inodeFlags = this.orReported(() => content.readInodeFlags(), shown, undefined, 'inode flags');
    if (inodeFlags === undefined) return undefined;
    const read: EntryMeta = { ...described.meta, size: content.contentSize, xattrs, extents: content.extents, inodeFlags, inodeFlagsKnown: true };
    const meta = content.isRecentlyChanged ? withRacyCtime(read) : read;
    // Before its content is read: nothing of it has been sent yet.
    if (this.isTooBig(meta, shown)) return undefined;
    /** Bytes of this read counted as they were streamed: a read cut short gives them back. */
    let streamedBytes = 0;
    try {
      if (this.chunks) {
        // Small files in one synchronous read; big ones frame by frame as they are cut.
        this.progress.bytesRead += await this.chunks.sendFile(meta, content.dataBytes <= INLINE_MAX_CONTENT ? [content.readWhole()] : content.frames());
        this.noteChanges(content, shown);
      } else if (content.dataBytes <= INLINE_MAX_CONTENT) {
        const bytes = content.readWhole();
        this.noteChanges(content, shown);
        await this.batcher.add(batchedEntry(meta, { content: bytes }));
        this.progress.bytesRead += bytes.length;
      } else {
        // A streamed entry's messages must follow the entries gathered before it.
        await this.batcher.flush();
        await this.stream.send({ message: { $case: 'entry', value: { meta, sameAsParent: false } } });
        await sendContent(this.stream, content.frames(), (count) => {
          streamedBytes += count;
          this.progress.bytesRead += count;
        });
        this.noteChanges(content, shown);
      }
    } catch (error) {
      const cause = error instanceof UnreadableContentError ? error.reason : error;
      if (!(cause instanceof ShrankWhileReadError)) throw error;
      // What is read counts once, from the read that is stored.
      this.progress.bytesRead -= streamedBytes;
      return cause;
    }
    return { read, isReplaced: described.isReplaced };
  }

  /**
   * read_all_fifos: whatever a writer puts in until it closes the FIFO; none yet reads as empty, listed. A read
   * that fails lists the FIFO as not in the backup, as a regular file's does; it ended the whole backup.
   */
  private async sendFifo(walked: WalkedEntry, shown: () => string): Promise<void> {
    let fd: number;
    try {
      fd = walked.open();
    } catch (error) {
      if (describe(error) === 'ENOENT') walked.reportVanished();
      else this.unreadable(shown, `cannot be opened (${describe(error)})`);
      return;
    }
    let described: { meta: EntryMeta; isReplaced: boolean } | undefined;
    try {
      described = this.describeOpened(walked, statFd(fd), shown);
    } catch (error) {
      this.unreadable(shown, `cannot be read (${describe(error)})`);
    }
    // From the FIFO opened, as its metadata: by name they could be another entry's by now.
    const xattrs = described === undefined ? undefined : this.orReported(() => walked.withAclNames(readXattrs({ fd })), shown);
    if (described === undefined || xattrs === undefined) {
      closeSync(fd);
      return;
    }
    const meta: EntryMeta = { ...described.meta, xattrs };
    if (this.isTooBig(meta, shown)) {
      closeSync(fd);
      return;
    }
    const content = new FifoContent(fd);
    const send = async (): Promise<void> => {
      if (this.chunks) {
        // Chunks cut before a failed read may go; the entry naming them never does.
        this.progress.bytesRead += await this.chunks.sendFile(meta, content.pieces());
      } else {
        await this.batcher.flush();
        await this.stream.send({ message: { $case: 'entry', value: { meta, sameAsParent: false } } });
        await sendContent(this.stream, content.pieces(), (count) => { this.progress.bytesRead += count; });
      }
    };
    try {
      // A writer that stalls would hold the backup, and a daemon's every later job, for ever once the server is gone.
      await (this.stopReading?.during((reason) => content.destroy(reason), send) ?? send());
    } catch (error) {
      // Stopped before its end (or its start): the daemon must not keep its fd.
      content.destroy();
      this.listFailedRead(error, shown);
      return;
    }
    this.progress.files++;
    // Stored (empty), and listed: what read_all_fifos asked for is not in the backup (red team: a burp-style
    // `seq > db.fifo &` in backup_script_pre, stopped with the script, gave an empty dump and exit 0).
    if (content.hadNoWriter) {
      this.unreadable(shown, 'no process had the FIFO open for writing when it was read (read_all_fifos), so it is stored empty; '
        + 'a writer that backup_script_pre starts in the background is stopped when the script ends: start it with setsid, or exclude the FIFO');
    }
  }

  /**
   * The metadata of the inode opened: the walk's, or its own when the name was given to another entry
   * of the same kind since (with a warning); undefined, reported, when it is of another kind now.
   */
  private describeOpened(walked: WalkedEntry, opened: PosixStat, shown: () => string, warnsOfReplacement = true): { meta: EntryMeta; isReplaced: boolean } | undefined {
    const found = openedFile(walked.stats, opened);
    if (found.kind === 'unreadable') {
      this.unreadable(shown, found.reason);
      return undefined;
    }
    // The inode walked, changed since its lstat (a chmod and a write, or a new file given the freed inode
    // number): described as opened, as its content is read from it. With the lstat's owner, mode and
    // times, a file made private and filled with a secret in between was restored public, exit 0.
    if (found.kind === 'same') return { meta: opened.ctimeNs === walked.stats.ctimeNs ? walked.meta : walked.metaFrom(opened), isReplaced: false };
    const what = walked.meta.type === EntryType.ENTRY_TYPE_FIFO_CONTENT ? 'FIFO' : 'file';
    if (warnsOfReplacement) this.progress.warnings.push(`${shown()}: replaced by another ${what} during the backup (the new one stored)`);
    return { meta: walked.metaFrom(opened), isReplaced: true };
  }

  /**
   * A content whose own reads failed (a FileReadError), maybe wrapped by the streaming sender, is listed
   * and the backup goes on: read inline, nothing was sent; streamed, the server was told to drop the
   * entry. Any other error is the upload's (the stream, the server): it ends the backup.
   */
  private listFailedRead(error: unknown, shown: () => string): void {
    const cause = error instanceof UnreadableContentError ? error.reason : error;
    if (cause instanceof FileReadError) this.unreadable(shown, `cannot be read (${cause.code})`);
    else throw error;
  }

  /**
   * Whether the entry's metadata (its xattrs, in practice) is more than one message can carry; then it
   * is reported and not sent. Sent, it failed the whole backup at the message limit.
   */
  private isTooBig(meta: EntryMeta, shown: () => string): boolean {
    const problem = entryMetadataProblem(meta);
    if (problem === undefined) return false;
    this.unreadable(shown, `cannot be backed up: ${problem}`);
    return true;
  }

  /**
   * After the content was read, and for a chunked or streamed file sent: a failing fstat now (ESTALE on
   * NFS) must not list as missing a file the server has. It cannot be told unchanged, so it counts as changed.
   */
  private noteChanges(content: FileContent, shown: () => string): void {
    let hasChanged: boolean;
    try {
      hasChanged = content.hasChanged();
    } catch (error) {
      if (!(error instanceof FileReadError)) throw error;
      this.progress.changedWhileRead.push(shown());
      this.progress.warnings.push(`${shown()}: could not check whether it changed while being read (${error.code}); stored as read`);
      return;
    }
    if (!hasChanged) return;
    this.progress.changedWhileRead.push(shown());
    this.progress.warnings.push(`${shown()}: file changed while being read (stored as read)`);
  }

  /**
   * A later link sent on its own, its inode changed since its first path was sent: said when the first
   * path still names that inode, a hard link the restore will not give back (see lost-hard-link.ts).
   */
  private warnIfLinkLost(walked: WalkedEntry, firstPath: Buffer): void {
    const warning = lostHardLinkWarning(walked.meta.path, firstPath, walked.stats);
    if (warning !== undefined) this.progress.warnings.push(warning);
  }

  private unreadable(path: () => string, reason: string): void {
    this.progress.unreadable.push({ path: path(), reason });
  }
}
