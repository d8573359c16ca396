// One backup as the protocol delivers it: Begin, entries with their content, then Commit or Abort.
// It checks what the client sends (order, paths, types, declared sizes) and hands everything to the
// store's write session, which owns packing, durability and the commit.
import type { BackupSession, ChunkStore } from '../chunkstore/store';
import type { BackupRecord } from '../chunkstore/store';
import type { ContentRef, ContentWriter, OwnEntry, StoredBytesLimit } from '../chunkstore/session';
import { BackupKind, EntryType, type BatchedEntry, type Begin, type Commit, type EncodedChunk, type EntryBatch, type EntryMeta, type UploadRequest, type UploadResponse } from '../proto/cpsbackup';
import { newEntryOf } from './entry-convert';
import { entryPathProblem } from '../common/entry-path';
import { carriesContent, extentDataBytes, isKnownEntryType, isLinkedWithoutContent } from '../common/entry-content';
import { escapeBytes } from '../common/escape-bytes';
import { ProtocolError } from '../common/errors';
import type { RunningUpload } from './activity';
import { MAX_CARRIED_RUN } from '../common/wire/carried-run';
import { CHUNK_HASH_SIZE, CHUNK_LIST_HASHES_PER_MESSAGE, MAX_CHUNK_LIST_HASHES } from '../common/wire/chunk-list';
import { checkEntryLimits } from './entry-limits';
import { LoopYield } from '../common/loop-yield';
import { receivedAbortReason, receivedWarnings } from './received-text';
import { receivedBegin } from './received-begin';
import { KeptBytes } from './kept-bytes';
import { SeenPaths } from './seen-paths';



interface OpenFile {
  readonly meta: EntryMeta;
  readonly writer: ContentWriter;
}

/**
 * Hashes one ChunkQuery may ask about; our client asks 512 at most (chunk-uploader.ts QUERY_HASHES). The
 * answer is one catalog look-up per hash in one synchronous transaction: the 131,072 of a 4 MiB query
 * held the server's thread from every other client for the whole of it.
 */
export const MAX_QUERY_HASHES = 16_384;

export class UploadSession {
  private session: BackupSession | undefined;
  private current: OpenFile | undefined;
  /**
   * All this session keeps until the backup ends. A file with more than one link keeps nothing here:
   * a later link reads its first path's entry back from the write session (its content, and its
   * xattrs and extents, which were kept for the whole backup and let a client that sent files of two
   * links and 4 MiB of xattrs each, never a link, grow the server's memory by every byte sent).
   */
  private readonly kept: KeptBytes;
  private readonly seenPaths: SeenPaths;
  /** The entry the last hard link named, and its path (firstLinkOf). */
  private lastFirstLink: { readonly path: Buffer; readonly entry: OwnEntry } | undefined;
  private labels: Record<string, string> = {};
  private isFinished = false;
  private readonly loop = new LoopYield();

  /** Chunk lists sent ahead of the file entry they belong to (ChunkList messages). */
  private pendingChunkList: Buffer[] = [];
  private pendingChunkListBytes = 0;

  /** respond: sends a message back on the call (answers to chunk queries), with backpressure. */
  constructor(
    private readonly store: ChunkStore,
    private readonly clientName: string,
    private readonly progress: RunningUpload,
    private readonly respond: (response: NonNullable<UploadResponse['message']>) => Promise<void>,
    /** The most the backup may store (admitBackup: the rest of its client's hard_quota). */
    private readonly storedLimit?: StoredBytesLimit,
  ) {
    this.kept = new KeptBytes(() => `client "${this.clientName}", backup ${this.session?.number ?? '(not begun)'}`);
    this.seenPaths = new SeenPaths(this.kept);
  }

  /**
   * Set at Begin when the client's newest backup came from another host: a node.conf given another
   * node's certificate backs up into that client's history (and its keep counts) without a word.
   */
  hostChange: { readonly previousHost: string; readonly previousNumber: number; readonly host: string } | undefined;

  /** Known once Begin arrived: a failed complete is not cleared by a partial on the status port. */
  kind: 'complete' | 'partial' | undefined;

  /** What the backup has written so far (its client's own copies new to it, its entries' metadata): the min_free watch's measure. */
  get writtenBytes(): number {
    return this.session === undefined ? 0 : this.session.stored.storedBytes + this.session.stored.metadataBytes;
  }

  get backupNumber(): number | undefined {
    return this.session?.number;
  }

  /** Handles one message; returns the committed backup when the message was Commit. */
  async handle(request: UploadRequest): Promise<BackupRecord | undefined> {
    const message = request.message;
    if (message === undefined) throw new ProtocolError('empty upload message');
    if (this.isFinished) throw new ProtocolError(`message "${message.$case}" after the backup ended`);
    if (message.$case !== 'begin' && this.session === undefined) throw new ProtocolError('the first message must be Begin');
    switch (message.$case) {
      case 'begin': await this.begin(message.value); return undefined;
      case 'entry': await this.entry(message.value.meta, message.value.sameAsParent); return undefined;
      case 'data': await this.data(message.value.chunk); return undefined;
      case 'entryEnd': await this.entryEnd(message.value.sha256, message.value.size, message.value.damage); return undefined;
      case 'batch': await this.batch(message.value); return undefined;
      case 'query': await this.answer(message.value.queryId, message.value.hashes); return undefined;
      case 'chunks': await this.chunks(message.value.chunks); return undefined;
      case 'chunkList':
        this.addChunkListPart(message.value.hashes);
        return undefined;
      case 'commit': return this.commit(message.value);
      case 'abort': throw new ProtocolError(`client aborted the backup: ${receivedAbortReason(message.value.reason)}`);
    }
  }

  private async begin(begin: Begin): Promise<void> {
    if (this.session !== undefined) throw new ProtocolError('Begin sent twice');
    const { hostname, labels } = receivedBegin(this.clientName, begin);
    this.labels = labels;
    const previous = this.store.findBackup(this.clientName, 0);
    if (previous !== undefined && previous.hostname !== '' && previous.hostname !== hostname) {
      this.hostChange = { previousHost: previous.hostname, previousNumber: previous.number, host: hostname };
    }
    this.session = await this.store.beginBackup(this.clientName, {
      kind: begin.kind, hostname, labels, parentNumber: begin.parentBackupId, storedLimit: this.storedLimit,
    });
    (this.progress as { backupNumber: number }).backupNumber = this.session.number;
    this.kind = begin.kind === BackupKind.BACKUP_KIND_PARTIAL ? 'partial' : 'complete';
  }

  /** Checks an entry's path and type; returns whether it carries content (a file or a read FIFO). */
  private admit(meta: EntryMeta | undefined): meta is EntryMeta {
    if (meta === undefined) throw new ProtocolError('entry without metadata');
    // Escaped only for a message: done for every entry, it cost more than the checks themselves.
    const shown = (): string => escapeBytes(meta.path.subarray(0, 4096));
    if (this.current !== undefined) throw new ProtocolError(`entry ${shown()} started before ${escapeBytes(this.current.meta.path)} ended`);
    this.admitPath(meta.path, shown, false);
    if (!isKnownEntryType(meta.type)) throw new ProtocolError(`entry ${shown()} has unknown type ${meta.type}`);
    const hasContent = carriesContent(meta.type);
    if (meta.hardlinkTarget.length > 0 && meta.type !== EntryType.ENTRY_TYPE_FILE && !isLinkedWithoutContent(meta.type)) {
      throw new ProtocolError(`entry ${shown()} is a hard link but neither a regular file, a symlink nor a special file`);
    }
    checkEntryLimits(this.clientName, meta, shown);
    return hasContent;
  }

  /** Refuses a path no entry may have, or one this backup already holds; `isCarried`: a path a carried run copied. */
  private admitPath(path: Buffer, shown: () => string, isCarried: boolean): void {
    const problem = entryPathProblem(path);
    if (problem !== undefined) throw new ProtocolError(`refused entry path ${shown()}${isCarried ? ' in a carried run' : ''}: ${problem}`);
    if (!this.seenPaths.add(path) && this.isSentBefore(path, isCarried)) {
      throw new ProtocolError(`entry ${shown()} sent twice${isCarried ? ' (once in a carried run)' : ''}`);
    }
  }

  /**
   * A path whose fingerprint this backup holds: sent before, or another path sharing it (about once per
   * million paths). A carried path is in the catalog already, copied by its run: only an entry still
   * waiting for the flush is an earlier one (a written one made the copy fail on the primary key). An
   * entry left out as unreadable (EntryEnd with damage) stored nothing: the same path sent again is taken.
   */
  private isSentBefore(path: Buffer, isCarried: boolean): boolean {
    const found = this.session!.ownEntry(path);
    return found !== undefined && !(isCarried && found.isWritten);
  }

  /**
   * The entry a hard link names: an earlier one of this backup with more than one link. The last one
   * found is kept, with its path: links to one file come together, and a first path already flushed to
   * the catalog was read and decoded anew for each of them (a file of 50,000 extents and 1,000 links:
   * a copy of its extents per link waiting for the next flush, 160-340 MiB of heap). A path's entry
   * never changes within a backup (it is sent once).
   */
  private firstLinkOf(target: Buffer): OwnEntry | undefined {
    const last = this.lastFirstLink;
    if (last !== undefined && last.path.equals(target)) return last.entry;
    if (!this.seenPaths.mayHave(target)) return undefined;
    const found = this.session!.ownEntry(target);
    if (found === undefined || found.entry.nlink <= 1) return undefined;
    // Only one read from the catalog: one still waiting for its flush is found there at no cost, and kept
    // here it would hold its pending content (its chunk list) past the flush. The path is copied: it is a
    // view into the message it came in.
    if (found.isWritten) this.lastFirstLink = { path: Buffer.from(target), entry: found };
    return found;
  }

  private async batch(batch: EntryBatch): Promise<void> {
    for (const item of batch.entries) {
      if (item.carried !== undefined) {
        this.carriedRun(item);
        // A run copies up to 4,096 rows at once, and a batch may hold many: other calls get their turn.
        await this.loop.turn();
        continue;
      }
      const meta = item.meta;
      const hasContent = this.admit(meta);
      if (hasContent && item.chunkHashes.length > 0 || this.pendingChunkList.length > 0) await this.chunkedContent(meta!, hasContent, item.chunkHashes);
      else if (hasContent && !item.sameAsParent && meta!.hardlinkTarget.length === 0) await this.inlineContent(meta!, item.content);
      else if (item.content.length > 0) throw new ProtocolError(`entry ${escapeBytes(meta!.path)} carries content it cannot have`);
      else await this.entryAfterAdmit(meta!, hasContent, item.sameAsParent);
    }
  }

  /** Files the parent holds exactly as they are now, copied from its rows: the run is all or nothing. */
  private carriedRun(item: BatchedEntry): void {
    const run = item.carried!;
    const shown = (path: Buffer): string => escapeBytes(path.subarray(0, 4096));
    const label = (): string => `${this.clientName}: carried run ${shown(run.firstPath)} to ${shown(run.lastPath)}`;
    if (item.meta !== undefined || item.sameAsParent || item.content.length > 0 || item.sha256.length > 0 || item.chunks.length > 0 || item.chunkHashes.length > 0) {
      throw new ProtocolError(`${label()} carries an entry's fields too`);
    }
    if (this.current !== undefined) throw new ProtocolError(`${label()} sent before ${escapeBytes(this.current.meta.path)} ended`);
    if (this.pendingChunkList.length > 0) throw new ProtocolError(`${label()} sent after a chunk list, which must precede its file`);
    if (run.count === 0 || Buffer.compare(run.firstPath, run.lastPath) > 0) throw new ProtocolError(`${label()} is empty`);
    if (run.count > MAX_CARRIED_RUN) throw new ProtocolError(`${label()} claims ${run.count} files, more than a run holds (${MAX_CARRIED_RUN})`);
    const fileType = EntryType.ENTRY_TYPE_FILE;
    // Checked as a received path is: a path stored under older rules is not carried on for ever.
    this.session!.carryFromParent({ first: run.firstPath, last: run.lastPath, count: run.count, fileType },
      (path) => this.admitPath(path, () => shown(path), true), label);
    this.progress.files += run.count;
  }

  private async entry(meta: EntryMeta | undefined, isSameAsParent: boolean): Promise<void> {
    const hasContent = this.admit(meta);
    await this.entryAfterAdmit(meta!, hasContent, isSameAsParent);
  }

  private async entryAfterAdmit(meta: EntryMeta, hasContent: boolean, isSameAsParent: boolean): Promise<void> {
    const session = this.session!;
    if (!hasContent) {
      await this.addWithoutContent(meta);
      return;
    }
    if (meta.hardlinkTarget.length > 0) {
      const first = this.firstLinkOf(meta.hardlinkTarget);
      if (first === undefined || first.entry.type !== EntryType.ENTRY_TYPE_FILE || first.content === null) {
        throw new ProtocolError(`entry ${escapeBytes(meta.path)} is a hard link to ${escapeBytes(meta.hardlinkTarget)}, which is not an earlier file of this backup`);
      }
      // The client reads an inode's attributes through the first name it walks, and a restore writes the
      // content through the first name in path order, which may be a later link ("d.1/f" sorts before
      // "d/f", walked after it): every link carries the first path's xattrs, extents and inode flags. Not copied: one
      // still waiting for the flush shares the first path's arrays (a copy per link let one entry of a
      // million extents and many links to it fill the heap before the flush), and a written one is read
      // once for all the links that follow it (firstLinkOf).
      const { xattrs, extents, inodeFlags, size } = first.entry;
      await this.addFile({ ...meta, xattrs: xattrs as EntryMeta['xattrs'], extents: extents as EntryMeta['extents'], ...wireFlagsOf(inodeFlags) }, size, first.content);
      return;
    }
    if (isSameAsParent) {
      const parent = session.parentContent(meta.path);
      if (parent === undefined) {
        throw new ProtocolError(`entry ${escapeBytes(meta.path)} claims to be unchanged but the parent backup has no content for it`);
      }
      // Unchanged (same ctime): the client read neither its attributes, its flags nor its holes again (chattr changes the ctime).
      const { xattrs, extents, inodeFlags } = parent.entry;
      await this.addFile({ ...meta, xattrs: [...xattrs], extents: [...extents], ...wireFlagsOf(inodeFlags) }, parent.entry.size, parent);
      return;
    }
    this.current = { meta, writer: session.openContent(() => `${this.clientName}:${escapeBytes(meta.path)}`) };
  }

  /**
   * A folder, symlink or special file. A later link names an earlier symlink or special file of its type in
   * this backup, and takes its xattrs: the client read them through the first path only. The catalog
   * keeps no link, only what a restore groups by (device, inode, type, rdev, ctime, link target).
   */
  private async addWithoutContent(meta: EntryMeta): Promise<void> {
    let stored = meta;
    if (meta.hardlinkTarget.length > 0) {
      const first = this.firstLinkOf(meta.hardlinkTarget);
      if (first === undefined || first.entry.type !== meta.type) {
        throw new ProtocolError(`entry ${escapeBytes(meta.path)} is a hard link to ${escapeBytes(meta.hardlinkTarget)}, which is not an earlier entry of its type in this backup`);
      }
      stored = { ...meta, xattrs: first.entry.xattrs as EntryMeta['xattrs'], ...wireFlagsOf(first.entry.inodeFlags) };
    }
    await this.session!.addEntry(newEntryOf(stored, 0), null);
    this.progress.files++;
  }

  /** Which of a client's chunks the store must receive: answered from this client's own knowledge only. */
  private async answer(queryId: number, hashes: Buffer): Promise<void> {
    if (hashes.length > MAX_QUERY_HASHES * CHUNK_HASH_SIZE) {
      throw new ProtocolError(`client "${this.clientName}" sent a chunk query of ${Math.floor(hashes.length / CHUNK_HASH_SIZE)} hashes; at most ${MAX_QUERY_HASHES} go in one`);
    }
    await this.respond({ $case: 'answer', value: { queryId, missing: this.session!.missingChunks(hashes) } });
  }

  private async chunks(chunks: readonly EncodedChunk[]): Promise<void> {
    await this.session!.receiveChunks(chunks);
    for (const chunk of chunks) this.progress.bytes += chunk.rawSize;
    this.progress.newBytes = this.session!.stored.newBytes;
  }

  /**
   * A part of the next entry's chunk list; refused beyond what any file has, before it is kept. Counted
   * in hashes, not messages: a part is a message of up to 4 MiB, and 64 of them held 8 Mi hashes.
   */
  private addChunkListPart(hashes: Buffer): void {
    if (hashes.length > CHUNK_LIST_HASHES_PER_MESSAGE * CHUNK_HASH_SIZE) {
      throw new ProtocolError(`a chunk list part of ${Math.floor(hashes.length / CHUNK_HASH_SIZE)} hashes; at most ${CHUNK_LIST_HASHES_PER_MESSAGE} go in one`);
    }
    this.pendingChunkListBytes += hashes.length;
    if (this.pendingChunkListBytes > MAX_CHUNK_LIST_HASHES * CHUNK_HASH_SIZE) {
      throw new ProtocolError(`a chunk list longer than any file (more than ${MAX_CHUNK_LIST_HASHES} chunks)`);
    }
    this.pendingChunkList.push(Buffer.from(hashes));
  }

  /** A file (or read FIFO) described by its chunks, all of them sent in this backup or held by this client. */
  private async chunkedContent(meta: EntryMeta, hasContent: boolean, lastHashes: Buffer): Promise<void> {
    if (!hasContent || meta.hardlinkTarget.length > 0) throw new ProtocolError(`entry ${escapeBytes(meta.path)} has a chunk list but cannot have content`);
    if (this.pendingChunkListBytes + lastHashes.length > MAX_CHUNK_LIST_HASHES * CHUNK_HASH_SIZE) {
      throw new ProtocolError(`entry ${escapeBytes(meta.path.subarray(0, 4096))} has a chunk list longer than any file (more than ${MAX_CHUNK_LIST_HASHES} chunks)`);
    }
    const hashes = this.pendingChunkList.length === 0 ? lastHashes : Buffer.concat([...this.pendingChunkList, lastHashes]);
    this.pendingChunkList = [];
    this.pendingChunkListBytes = 0;
    const content = this.session!.chunkedContent(hashes, () => `${this.clientName}:${escapeBytes(meta.path)}`);
    await this.addFile(meta, fileSize(meta, content.size), content);
  }

  /** A small file's whole content sent in a batch; the hash is computed here, not declared by the client. */
  private async inlineContent(meta: EntryMeta, content: Buffer): Promise<void> {
    const writer = this.session!.openContent(() => `${this.clientName}:${escapeBytes(meta.path)}`);
    const stored = await writer.storeWhole(content);
    this.progress.bytes += content.length;
    await this.addFile(meta, fileSize(meta, stored.size), stored);
  }

  private async data(chunk: Buffer): Promise<void> {
    if (this.current === undefined) throw new ProtocolError('data outside a file entry');
    await this.current.writer.write(chunk);
    this.progress.bytes += chunk.length;
  }

  /** damage: the client could not read the file to its end; the entry is left out (what arrived is garbage). */
  private async entryEnd(hash: Buffer, size: number, damage: string): Promise<void> {
    const current = this.current;
    if (current === undefined) throw new ProtocolError('entry end outside a file entry');
    this.current = undefined;
    if (damage !== '') return;
    const stored = await current.writer.finish(hash, size);
    await this.addFile(current.meta, fileSize(current.meta, stored.size), stored);
  }

  private async addFile(meta: EntryMeta, size: number, content: ContentRef): Promise<void> {
    await this.session!.addEntry(newEntryOf(meta, size), content);
    this.progress.files++;
    this.progress.newBytes = this.session!.stored.newBytes;
  }

  private async commit(commit: Commit): Promise<BackupRecord> {
    if (this.current !== undefined) throw new ProtocolError(`commit while ${escapeBytes(this.current.meta.path)} is still open`);
    const labels = commit.warnings.length > 0 ? { ...this.labels, warnings: receivedWarnings(commit.warnings).join('\n') } : this.labels;
    const committed = await this.session!.commit(labels, commit.unreadableFiles);
    this.isFinished = true;
    return committed;
  }

  /** Drops everything of an unfinished backup; never throws. */
  async abandon(cause: unknown): Promise<void> {
    this.isFinished = true;
    this.current = undefined;
    await this.session?.abandon(cause);
  }
}

/**
 * A dense file's size is what arrived (it may have changed since the client's walk); a sparse
 * file's is the one declared, and its data must be exactly what its extents hold.
 */
function fileSize(meta: EntryMeta, contentSize: number): number {
  if (meta.extents.length === 0) return contentSize;
  const data = extentDataBytes(meta.extents);
  if (data !== contentSize) {
    throw new ProtocolError(`entry ${escapeBytes(meta.path)}: its extents hold ${data} bytes but ${contentSize} arrived`);
  }
  return meta.size;
}

/** A stored entry's inode flags as an EntryMeta carries them (null: unknown). */
function wireFlagsOf(inodeFlags: number | null): Pick<EntryMeta, 'inodeFlags' | 'inodeFlagsKnown'> {
  return { inodeFlags: inodeFlags ?? 0, inodeFlagsKnown: inodeFlags !== null };
}
