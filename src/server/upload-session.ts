// One backup being received: Begin, entries with their content, then Commit or Abort.
// Nothing becomes visible before Commit: packs are fsynced first, then one durable catalog transaction.
import { open } from 'node:fs/promises';
import type { ChunkStore } from '../chunkstore/store';
import type { BackupRecord, StoredEntry } from '../chunkstore/catalog/records';
import { PackWriter } from '../chunkstore/pack/pack-writer';
import { packPath } from '../chunkstore/pack/pack-files';
import { RECORD_HEADER_SIZE } from '../chunkstore/pack/pack-format';
import { ContentWriter, type ContentWriterContext, type PendingContent } from '../chunkstore/content-writer';
import { InFlightWork } from '../chunkstore/in-flight';
import { EntryType, type Begin, type Commit, type EntryBatch, type EntryMeta, type UploadRequest } from '../proto/cpsbackup';
import { storedEntryOf } from './entry-convert';
import { ParentEntries } from './parent-entries';
import { entryPathProblem } from '../common/entry-path';
import { carriesContent } from '../common/entry-content';
import { ProtocolError } from '../common/errors';
import type { RunningUpload } from './activity';

/**
 * Each flush drains the encoders and commits one transaction whose random-keyed hash indexes dirty
 * pages all over the catalog: 512 entries per flush spent a second per GiB of small files in commits.
 */
const ENTRY_FLUSH_COUNT = 4096;

interface OpenFile {
  readonly meta: EntryMeta;
  readonly writer: ContentWriter;
}

export interface CommittedBackup {
  readonly backup: BackupRecord;
}

export class UploadSession {
  private backup: BackupRecord | undefined;
  private parentEntries: ParentEntries | undefined;
  private current: OpenFile | undefined;
  /** Entries not in the catalog yet, flushed with the contents they need every ENTRY_FLUSH_COUNT entries. */
  private readonly pendingEntries: { entry: StoredEntry; content: number | PendingContent | null }[] = [];
  private readonly seenPaths = new Set<string>();
  private readonly packWriter: PackWriter;
  private readonly context: ContentWriterContext;
  private labels: Record<string, string> = {};
  private files = 0;
  private logicalBytes = 0;
  private isFinished = false;

  constructor(
    private readonly store: ChunkStore,
    private readonly clientName: string,
    private readonly progress: RunningUpload,
  ) {
    this.packWriter = new PackWriter(store.directory, store.catalog);
    this.context = {
      catalog: store.catalog, packWriter: this.packWriter, encode: (raw) => store.encode(raw),
      referencedPacks: new Set(), chunksInFlight: new Map(), pendingContents: new Map(),
      inFlight: new InFlightWork(), stored: { newBytes: 0, storedBytes: 0 },
    };
  }

  get backupNumber(): number | undefined {
    return this.backup?.number;
  }

  /** Handles one message; returns the committed backup when the message was Commit. */
  async handle(request: UploadRequest): Promise<BackupRecord | undefined> {
    const message = request.message;
    if (message === undefined) throw new ProtocolError('empty upload message');
    if (this.isFinished) throw new ProtocolError(`message "${message.$case}" after the backup ended`);
    if (message.$case !== 'begin' && this.backup === undefined) throw new ProtocolError('the first message must be Begin');
    switch (message.$case) {
      case 'begin': this.begin(message.value); return undefined;
      case 'entry': await this.entry(message.value.meta, message.value.sameAsParent); return undefined;
      case 'data': await this.data(message.value.chunk); return undefined;
      case 'entryEnd': await this.entryEnd(message.value.sha256, message.value.size); return undefined;
      case 'batch': await this.batch(message.value); return undefined;
      case 'commit': return this.commit(message.value);
      case 'abort': throw new ProtocolError(`client aborted the backup: ${message.value.reason}`);
    }
  }

  private begin(begin: Begin): void {
    if (this.backup !== undefined) throw new ProtocolError('Begin sent twice');
    const catalog = this.store.catalog;
    const clientId = catalog.clientId(this.clientName);
    if (begin.parentBackupId !== 0) {
      const parent = catalog.backupByNumber(clientId, begin.parentBackupId);
      if (parent === undefined || parent.state !== 'committed') {
        throw new ProtocolError(`parent backup ${begin.parentBackupId} of client "${this.clientName}" does not exist`);
      }
      this.parentEntries = new ParentEntries(catalog, parent.id);
    }
    this.labels = { ...begin.labels, ...(begin.clientVersion ? { 'client.version': begin.clientVersion } : {}) };
    this.backup = catalog.createBackup(clientId, begin.kind, begin.hostname, this.labels, Date.now());
    (this.progress as { backupNumber: number }).backupNumber = this.backup.number;
  }

  /** Checks an entry's path and type; returns whether it carries content (a file or a read FIFO). */
  private admit(meta: EntryMeta | undefined): meta is EntryMeta {
    if (meta === undefined) throw new ProtocolError('entry without metadata');
    if (this.current !== undefined) throw new ProtocolError(`entry ${meta.path} started before ${this.current.meta.path} ended`);
    const problem = entryPathProblem(meta.path);
    if (problem !== undefined) throw new ProtocolError(`refused entry path ${JSON.stringify(meta.path)}: ${problem}`);
    if (this.seenPaths.has(meta.path)) throw new ProtocolError(`entry ${meta.path} sent twice`);
    this.seenPaths.add(meta.path);
    const hasContent = carriesContent(meta.type);
    if (!hasContent && meta.type !== EntryType.ENTRY_TYPE_DIRECTORY && meta.type !== EntryType.ENTRY_TYPE_SYMLINK) {
      throw new ProtocolError(`entry ${meta.path} has unknown type ${meta.type}`);
    }
    return hasContent;
  }

  private async batch(batch: EntryBatch): Promise<void> {
    for (const item of batch.entries) {
      const meta = item.meta;
      const hasContent = this.admit(meta);
      if (hasContent && !item.sameAsParent) await this.inlineContent(meta!, item.content);
      else if (item.content.length > 0) throw new ProtocolError(`entry ${meta!.path} carries content it cannot have`);
      else await this.entryAfterAdmit(meta!, hasContent, item.sameAsParent);
    }
  }

  private async entry(meta: EntryMeta | undefined, isSameAsParent: boolean): Promise<void> {
    const hasContent = this.admit(meta);
    await this.entryAfterAdmit(meta!, hasContent, isSameAsParent);
  }

  private async entryAfterAdmit(meta: EntryMeta, hasContent: boolean, isSameAsParent: boolean): Promise<void> {
    if (!hasContent) {
      await this.addEntry(storedEntryOf(meta, 0, null), null);
      return;
    }
    if (isSameAsParent) {
      const parentEntry = this.parentEntries?.get(meta.path);
      if (parentEntry === undefined || parentEntry.contentId === null) {
        throw new ProtocolError(`entry ${meta.path} claims to be unchanged but the parent backup has no content for it`);
      }
      this.files++;
      this.logicalBytes += parentEntry.size;
      await this.addEntry(storedEntryOf(meta, parentEntry.size, parentEntry.contentId), parentEntry.contentId);
      return;
    }
    const chunker = this.store.chunkerFactory.create();
    this.current = { meta, writer: new ContentWriter(this.context, chunker, `${this.clientName}:${meta.path}`) };
  }

  /** A small file's whole content sent in a batch; the hash is computed here, not declared by the client. */
  private async inlineContent(meta: EntryMeta, content: Buffer): Promise<void> {
    const writer = new ContentWriter(this.context, this.store.chunkerFactory.create(), `${this.clientName}:${meta.path}`);
    const result = await writer.storeWhole(content);
    this.progress.bytes += content.length;
    this.recordContent(result.size);
    await this.addEntry(storedEntryOf(meta, result.size, null), result.content);
  }

  private recordContent(size: number): void {
    this.files++;
    this.logicalBytes += size;
    this.progress.newBytes = this.context.stored.newBytes;
  }

  private async data(chunk: Buffer): Promise<void> {
    if (this.current === undefined) throw new ProtocolError('data outside a file entry');
    await this.current.writer.write(chunk);
    this.progress.bytes += chunk.length;
  }

  private async entryEnd(hash: Buffer, size: number): Promise<void> {
    const current = this.current;
    if (current === undefined) throw new ProtocolError('entry end outside a file entry');
    this.current = undefined;
    const result = await current.writer.finish(hash, size);
    this.recordContent(result.size);
    await this.addEntry(storedEntryOf(current.meta, result.size, null), result.content);
  }

  private async addEntry(entry: StoredEntry, content: number | PendingContent | null): Promise<void> {
    this.pendingEntries.push({ entry, content });
    this.progress.files++;
    if (this.pendingEntries.length >= ENTRY_FLUSH_COUNT) await this.flushEntries();
  }

  /**
   * One transaction per flush instead of one per file. Called only between files, so every chunk
   * in chunksInFlight belongs to a pending content written here; draining makes them all appended.
   */
  private async flushEntries(): Promise<void> {
    if (this.backup === undefined || this.pendingEntries.length === 0) return;
    // Pending contents list their chunks only once every chunk store they started has ended.
    await this.context.inFlight.drain();
    // Catalog rows may only point at bytes already in the pack file: another session can dedup against them at once.
    await this.packWriter.flush();
    this.store.catalog.insertContentsAndEntries(this.backup.id, this.context.pendingContents.values(), this.pendingEntries.splice(0));
    this.context.pendingContents.clear();
    this.context.chunksInFlight.clear();
  }

  private async commit(commit: Commit): Promise<BackupRecord> {
    if (this.current !== undefined) throw new ProtocolError(`commit while ${this.current.meta.path} is still open`);
    const backup = this.backup!;
    await this.flushEntries();
    await this.packWriter.close();
    await this.syncReferencedPacks();
    const labels = commit.warnings.length > 0 ? { ...this.labels, warnings: commit.warnings.join('\n') } : this.labels;
    const stats = { files: this.files, logicalBytes: this.logicalBytes, ...this.context.stored };
    this.store.catalog.commitBackup(backup.id, stats, labels, Date.now());
    this.isFinished = true;
    return this.store.catalog.backupById(backup.id)!;
  }

  /** Chunks found by dedup may sit in packs another running session has not synced yet. */
  private async syncReferencedPacks(): Promise<void> {
    if (this.context.referencedPacks.size === 0) return;
    const unsealed = this.store.catalog.sqlite.prepare(`SELECT name FROM packs WHERE id = ? AND is_sealed = 0`).pluck();
    for (const packId of this.context.referencedPacks) {
      const name = unsealed.get(packId) as string | undefined;
      if (name === undefined) continue;
      const handle = await open(packPath(this.store.directory, name), 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
  }

  /** Drops everything of an unfinished backup; its chunks become garbage for the next GC. */
  /** Returns true when written chunks could not be recorded (a full disk): their space waits for GC. */
  async abandon(): Promise<boolean> {
    if (this.isFinished) return false;
    this.isFinished = true;
    this.current = undefined;
    try {
      // Chunks already written stay usable: a retried backup of the same big file or dump then
      // sends them again but stores only what is missing. Unused, they are garbage for the next GC.
      const written = await Promise.allSettled(this.context.chunksInFlight.values());
      const syncedPacks = await this.packWriter.discard();
      // Only chunks whose bytes reached the disk: on a full disk the last gathered ones never did.
      const reusable = written.flatMap((result) => result.status === 'fulfilled'
        && result.value.offset + RECORD_HEADER_SIZE + result.value.storedSize <= (syncedPacks.get(result.value.packId) ?? 0) ? [result.value] : []);
      try {
        this.store.catalog.insertChunks(reusable);
      } catch {
        return reusable.length > 0; // the catalog is out of space too; the packs are plain garbage now
      }
      return false;
    } finally {
      if (this.backup !== undefined) this.store.catalog.deleteBackup(this.backup.id);
    }
  }

}
