// The store's write session: one backup being written. The caller hands over entries and content
// streams; the session decides packing, flush order, durability and the commit, and cleans up
// after a failure. Nothing is visible before commit(): packs are stored durably first, then one
// durable catalog transaction makes the backup committed and counts its references.
import type { Catalog } from '../catalog/catalog';
import type { OwnCopy } from '../catalog/client-chunks-table';
import type { BackupRecord, ReferencedFields, StoredEntry } from '../catalog/records';
import type { ChunkerFactory } from '../chunker/chunker';
import type { EncodedChunk } from '../codec';
import type { PackWriter } from '../pack/pack-writer';
import { ContentWriter, type ContentWriterContext } from './content-writer';
import { ChunkIntake, type ReceivedChunk } from './chunk-intake';
import type { ChunkCodec } from '../codec';
import { InFlightWork } from './in-flight';
import type { OpenSessions, SessionHold } from './open-sessions';
import { ParentEntries } from './parent-entries';
import { entryWeight } from './entry-weight';
import { DiskFullError, ProtocolError } from '../../common/errors';
import { isPending, type ContentRef, type PendingContent, type StoredContentRef } from './content-ref';
import { ownEntryAt, type OwnEntry } from './own-entry';
import { assertWithinLimit, type StoredBytesLimit } from './stored-limit';
import { entryMetadataBytes } from './entry-metadata-bytes';

/** An entry as the caller describes it; the session fills in its content id. */
export type NewEntry = Omit<StoredEntry, 'contentId'>;

export interface SessionDependencies {
  readonly catalog: Catalog;
  /** Decodes chunks a client sent, to verify them. */
  readonly codec: ChunkCodec;
  readonly chunkerFactory: ChunkerFactory;
  readonly encode: (raw: Buffer) => Promise<EncodedChunk>;
  readonly packWriter: PackWriter;
  /** Writes, then drops, the bytes of chunks only other clients hold (cover-writer.ts); none when the server is set not to. */
  readonly coverWriter?: PackWriter;
  readonly sessions: OpenSessions;
  readonly hold: SessionHold;
  /** How long what the session stored or used stays held for a retry (chunk_holds) after it fails. */
  readonly resumeHoldMs: number;
  /** Entries gathered before a flush writes them; default ENTRY_FLUSH_COUNT (tests lower it). */
  readonly entriesPerFlush?: number;
  /** Frees what an abandoned session cannot: called when even deleting its rows fails (a full disk). */
  readonly onCleanupFailure: (error: unknown) => Promise<void>;
  /** The backup became visible (the store then snapshots its catalog to the bucket, if it has one). */
  readonly onCommitted?: () => void;
  /** The most this backup may store (its client's hard_quota less its usage at the start); undefined: no bound. */
  readonly storedLimit?: StoredBytesLimit;
  /** Throws when the backup may not be committed (the store lost its bucket's lease). */
  readonly beforeCommit?: () => void;
}

/**
 * Each flush drains the encoders, seals the open pack and commits one transaction whose random-keyed
 * hash indexes dirty pages all over the catalog: 512 entries per flush spent a second per GiB of small files.
 */
const ENTRY_FLUSH_COUNT = 4096;
/** ...or once the entries gathered hold about this much memory (entry-weight.ts). */
const ENTRY_FLUSH_BYTES = 64 * 1024 * 1024;
/**
 * ...or once the session remembers this many chunks (some 250 bytes each, with their records): chunks
 * come without entries (a large file's, or a hostile client's that never sends one), and a flush was
 * the only thing that let go of them. 16,384 of 128 KiB chunks are 2 GiB: an honest backup flushes
 * about as often as it did.
 */
const CHUNK_FLUSH_COUNT = 16_384;

export class BackupSession {
  private readonly context: ContentWriterContext;
  private readonly parent: ParentEntries | undefined;
  private pendingEntries: { entry: NewEntry; content: ContentRef | null }[] = [];
  private pendingWeight = 0;
  /** Contents already counted in pendingWeight since the last flush. */
  private readonly weighedContents = new Set<ContentRef>();
  private files = 0;
  private logicalBytes = 0;
  private isFinished = false;

  constructor(private readonly dependencies: SessionDependencies, readonly backup: BackupRecord, parent: BackupRecord | undefined) {
    this.context = {
      catalog: dependencies.catalog, clientId: backup.clientId, packWriter: dependencies.packWriter, coverWriter: dependencies.coverWriter, encode: dependencies.encode, hold: dependencies.hold,
      newChunks: new Map(), pendingContents: new Map(), clientHashes: new Map(), inFlight: new InFlightWork(),
      stored: { newBytes: 0, storedBytes: 0, metadataBytes: 0 }, storedLimit: dependencies.storedLimit,
    };
    this.parent = parent && new ParentEntries(dependencies.catalog, parent.id);
    this.intake = new ChunkIntake(this.context, dependencies.packWriter, dependencies.codec, backup.clientId, backup.clientName,
      dependencies.chunkerFactory.params.maxSize);
  }

  private readonly intake: ChunkIntake;
  /** The damaged contents as read at damageGeneration: read again once a check (or gc) marks more. */
  private damagedContents: { readonly ids: ReadonlySet<number>; readonly generation: number } | undefined;

  /** Client-side chunking: a bitmap of the chunks (32-byte hashes) the client must send. */
  missingChunks(hashes: Buffer): Buffer {
    this.assertOpen();
    return this.intake.missing(hashes);
  }

  /** Client-side chunking: the chunks of one message the client sent, each verified before it is stored. */
  async receiveChunks(chunks: readonly ReceivedChunk[]): Promise<void> {
    this.assertOpen();
    await this.intake.receive(chunks);
    if (this.hasManyChunks()) await this.flush();
  }

  /** Queries add to what is remembered too (their answers), and are let go of at the next chunks or entry. */
  private hasManyChunks(): boolean {
    return this.intake.rememberedChunks >= CHUNK_FLUSH_COUNT;
  }

  /** Client-side chunking: the content a chunk list describes; `label` names the file in errors. */
  chunkedContent(hashes: Buffer, label: () => string): ContentRef {
    this.assertOpen();
    return this.intake.content(hashes, label);
  }

  get number(): number {
    return this.backup.number;
  }

  /** Raw and compressed bytes stored for the first time so far, and what its entries' metadata takes. */
  get stored(): { readonly newBytes: number; readonly storedBytes: number; readonly metadataBytes: number } {
    return this.context.stored;
  }

  /** The parent backup's entry at this path, if it has content; its content is held for this session from now on. */
  parentContent(path: Buffer): (StoredContentRef & { readonly entry: ReferencedFields }) | undefined {
    const found = this.parent?.get(path);
    if (found === undefined) return undefined;
    const { entry, contentSize, contentHash, contentsDeletedBefore } = found;
    if (entry.contentId === null || contentSize === null || contentHash === null) return undefined;
    const { catalog, hold } = this.dependencies;
    // A damaged content is not carried forward: the client must send the file again (and heal it).
    // Read again when chunks were marked since: a check may end while a long backup runs.
    const generation = catalog.chunks.damageGeneration;
    if (this.damagedContents?.generation !== generation) this.damagedContents = { ids: catalog.contents.damagedIds(this.backup.clientId), generation };
    if (this.damagedContents.ids.has(entry.contentId)) return undefined;
    hold.contents.add(entry.contentId);
    hold.reusedSinceFlush.add(entry.contentId);
    // Read with its entry ahead of time: a sweep since then (the parent deleted meanwhile) may have taken
    // it, and SQLite may have given its id to a new content since, so the row must still hold the same bytes.
    if (catalog.garbage.contentsDeleted !== contentsDeletedBefore) {
      const current = catalog.contents.byId(entry.contentId);
      if (current === undefined || current.size !== contentSize || !current.hash.equals(contentHash)) return undefined;
    }
    return { id: entry.contentId, size: contentSize, entry };
  }

  /** This backup's entry at `path` as added so far (flushed or not), with its content; for a later hard link. */
  ownEntry(path: Buffer): OwnEntry | undefined {
    this.assertOpen();
    return ownEntryAt(this.pendingEntries, this.dependencies.catalog, this.backup.id, path);
  }

  /**
   * A carried run: the parent's regular files (entry type `run.fileType`) of one link with sound
   * content from `run.first` to `run.last` (path order, both included) become this backup's as the
   * parent holds them, copied inside the catalog, their contents held from now on. `admit` sees each
   * path first (the caller refuses one sent twice, or one it would not take). A committed backup's rows
   * never change or grow, so they can only have become fewer since the client read them (deleted,
   * found damaged): a number other than `run.count` refuses the run, and nothing of it stays.
   */
  carryFromParent(run: { first: Buffer; last: Buffer; count: number; fileType: number }, admit: (path: Buffer) => void, label: () => string): void {
    this.assertOpen();
    if (this.parent === undefined) throw new ProtocolError(`${label()}: a carried run, but this backup has no parent`);
    const { catalog, hold } = this.dependencies;
    const parentId = this.parent.backupId;
    const { count } = run;
    let bytes = 0;
    let metadataBytes = 0;
    catalog.transaction(() => {
      // One more than claimed tells a longer range from the claimed one without copying all of it.
      const rows = copyOrRefuse(() => catalog.entries.copySoundRange(parentId, this.backup.id, this.backup.clientId, run, count + 1), label);
      if (rows.length !== count) {
        const held = rows.length > count ? `more than ${count}` : `${rows.length}`;
        throw new ProtocolError(`${label()}: a carried run of ${count} files, but the parent backup holds ${held} sound ones there (it changed since the client read it; run the backup again)`);
      }
      for (const [path, contentId, size, metadata] of rows) {
        admit(path);
        hold.contents.add(contentId);
        bytes += size;
        metadataBytes += metadata;
      }
      // The copies are rows of this backup's own: their metadata counts as a sent entry's does (a throw undoes the copy).
      assertWithinLimit(this.dependencies.storedLimit, this.context.stored, metadataBytes);
    });
    this.context.stored.metadataBytes += metadataBytes;
    this.files += count;
    this.logicalBytes += bytes;
  }

  /** A writer for one content; `label` names it in errors (client and path). */
  openContent(label: () => string): ContentWriter {
    this.assertOpen();
    return new ContentWriter(this.context, this.dependencies.chunkerFactory.create(), label);
  }

  async addEntry(entry: NewEntry, content: ContentRef | null): Promise<void> {
    this.assertOpen();
    // Its names and attributes take catalog space its client chose: counted against its limit before it is taken.
    const metadataBytes = entryMetadataBytes(entry);
    assertWithinLimit(this.dependencies.storedLimit, this.context.stored, metadataBytes);
    this.context.stored.metadataBytes += metadataBytes;
    this.pendingEntries.push({ entry, content });
    // A content recorded in this session counts once, with its first entry: a hard link shares it.
    const isNewContent = content !== null && isPending(content) && content.id === undefined && !this.weighedContents.has(content);
    if (isNewContent) this.weighedContents.add(content);
    this.pendingWeight += entryWeight(entry, isNewContent ? content.chunks.length : 0);
    if (content !== null) {
      this.files++;
      this.logicalBytes += entry.size;
    }
    if (this.pendingEntries.length >= (this.dependencies.entriesPerFlush ?? ENTRY_FLUSH_COUNT) || this.pendingWeight >= ENTRY_FLUSH_BYTES
      || this.hasManyChunks()) await this.flush();
  }

  /**
   * Writes what is pending: every chunk's record written, every pack stored and recorded (chunk
   * ids settle), then contents and entries in one transaction. Called between files only.
   */
  private async flush(): Promise<void> {
    if (this.pendingEntries.length === 0 && this.context.pendingContents.size === 0 && this.context.clientHashes.size === 0) return;
    await this.context.inFlight.drain();
    // Cover writes are stored (and dropped) as packs of new chunks are: at every flush, the commit's included.
    await Promise.all([this.context.packWriter.sealCurrent(), this.context.coverWriter?.sealCurrent()]);
    const contents = [...this.context.pendingContents.values()];
    const chunkIds = await Promise.all(contents.map((content) => Promise.all(content.chunks)));
    const entries = this.pendingEntries;
    const { catalog, hold } = this.dependencies;
    const used = this.usedChunks();
    catalog.transaction(() => {
      this.holdUsedChunks(used);
      contents.forEach((content, index) => {
        content.id = catalog.contents.insertRows(content.hash, content.size, chunkIds[index]);
        hold.contents.add(content.id);
      });
      catalog.entries.insert(this.backup.id, entries.map(({ entry }) => entry), entries.map(({ content }) => (content === null ? null : contentIdOf(content))));
    });
    hold.reusedSinceFlush.clear();
    this.pendingEntries = [];
    this.pendingWeight = 0;
    this.weighedContents.clear();
    this.context.pendingContents.clear();
    this.context.newChunks.clear();
    this.context.clientHashes.clear();
    this.intake.forgetAnswers();
  }

  /** Makes the backup visible; returns it as committed. */
  async commit(labels: Readonly<Record<string, string>>, unreadableFiles: number): Promise<BackupRecord> {
    this.assertOpen();
    await this.flush();
    const { catalog, sessions, hold } = this.dependencies;
    const stats = { files: this.files, logicalBytes: this.logicalBytes, ...this.context.stored, unreadableFiles };
    this.dependencies.beforeCommit?.();
    hold.whileEnding(() => catalog.backups.commit(this.backup.id, stats, labels, Date.now()));
    this.isFinished = true;
    sessions.close(hold);
    catalog.checkpointLog();
    this.dependencies.onCommitted?.();
    return catalog.backups.byId(this.backup.id)!;
  }

  /**
   * Drops the backup. The chunks it stored stay held for its client (a retry then stores only what
   * is missing), so the open pack is stored too, unless the failure was a full disk: then its
   * staged file is removed first, since that is the space the catalog needs to record the
   * abandonment. Never throws: what cannot be cleaned now is cleaned when the store next opens.
   */
  async abandon(cause?: unknown): Promise<void> {
    if (this.isFinished) return;
    this.isFinished = true;
    const { sessions, hold, packWriter, coverWriter } = this.dependencies;
    try {
      await this.context.inFlight.drain().catch(() => undefined);
      // Whether what it stored since its last flush is stored and held: only then is what it used meanwhile held too.
      const isOpenPackStored = !(cause instanceof DiskFullError) && await packWriter.sealCurrent().then(() => true, () => false);
      await packWriter.discard();
      await coverWriter?.discard();
      const lostStretch = isOpenPackStored ? undefined : await this.storedSinceFlush();
      try {
        this.dropRows(lostStretch);
      } catch (error) {
        await this.dependencies.onCleanupFailure(error);
        this.dropRows(lostStretch);
      }
    } catch {
      // The running row stays; recovery drops it when the store next opens.
    } finally {
      sessions.close(hold);
    }
  }

  /**
   * The backup's rows, and what its client knew through them alone. What the session stored, sent or
   * used stays known through its holds (chunk_holds), kept for the retry from now on, and is
   * forgotten when they expire. A chunk another client stored, known only through this backup's
   * entries, goes now: kept with nothing of this client's keeping it, "held" in a later answer would
   * tell the client that some other client still has those bytes.
   */
  /** lostStretch: what the session stored since its last flush, when its open pack was not stored; undefined when it was. */
  private dropRows(lostStretch: readonly number[] | undefined): void {
    const { catalog, hold } = this.dependencies;
    const used = this.usedChunks();
    // Only within the transaction: between a failed attempt and its retry the session still holds what it uses.
    catalog.transaction(() => hold.whileEnding(() => this.dropRowsNow(used, lostStretch)), true);
  }

  /** dropRows' writes, in its transaction. */
  private dropRowsNow(used: { copies: OwnCopy[]; chunkIds: number[] }, lostStretch: readonly number[] | undefined): void {
    const { catalog } = this.dependencies;
    // The retry must be asked for another client's chunks exactly as for its own sent in the same
    // stretch: forgotten while its own were held, it was asked for exactly the chunks other clients
    // hold; held while its own were lost, for exactly its own. So what it used since its last flush is
    // held as what it stored is, when every pack of that stretch was stored; when the open pack was
    // not (a full disk drops it, a failed write ends the writer), the packs of the stretch stored before
    // it are let go as well (the retry sends them again) and nothing of the stretch is held.
    if (this.context.stored.isLimitReached === true) {
      // Stopped at its limit (hard_quota): a retry would stop there again, and what it stored, held and
      // counted, kept its client at its quota for resume_hold. Let go of: its usage is what it was before.
      catalog.clientChunks.noteReleased(this.backup.clientId, catalog.holds.releaseBackup(this.backup.id));
    } else {
      if (lostStretch === undefined) this.holdUsedChunks(used);
      else {
        catalog.holds.release(lostStretch, this.backup.id);
        catalog.clientChunks.noteReleased(this.backup.clientId, lostStretch);
      }
      catalog.holds.extendForRetry(this.backup.id, Date.now() + this.dependencies.resumeHoldMs);
    }
    catalog.backups.delete(this.backup.id);
    catalog.clientChunks.forgetUnreferenced(this.backup.clientId);
  }

  /** The ids of the chunks this session stored since its last flush whose packs were stored and recorded. */
  private async storedSinceFlush(): Promise<number[]> {
    const settled = await Promise.allSettled([...this.context.newChunks.values()].map((chunk) => chunk.chunkId));
    return settled.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
  }

  /**
   * A chunk this session stored became the client's, held by this backup, when its pack was recorded.
   * One it used from the store (another client's, or its own) becomes so at a flush, or when the backup
   * is dropped, held too: a chunk sent or named before the file that uses it, which never comes (the file
   * failed, the backup was abandoned), is then forgotten when the hold goes (released at the commit,
   * expired after an abandon), as one named by no entry must be.
   */
  private usedChunks(): { copies: OwnCopy[]; chunkIds: number[] } {
    const used: { copies: OwnCopy[]; chunkIds: number[] } = { copies: [], chunkIds: [] };
    for (const chunk of this.context.clientHashes.values()) {
      if (chunk.chunkId === undefined) continue;
      used.copies.push({ hash: chunk.hash, storedSize: chunk.storedSize });
      used.chunkIds.push(chunk.chunkId);
    }
    return used;
  }

  /** Inside the caller's transaction. What this client has stored or used is what it may later be told the store has, and what its quota is charged. */
  private holdUsedChunks(used: { copies: OwnCopy[]; chunkIds: number[] }): void {
    const { catalog } = this.dependencies;
    catalog.clientChunks.add(this.backup.clientId, used.copies);
    catalog.holds.hold(used.chunkIds, this.backup.clientId, this.backup.id, Date.now() + this.dependencies.resumeHoldMs);
  }

  private assertOpen(): void {
    if (this.isFinished) throw new Error(`backup ${this.backup.number} of ${this.backup.clientName} has already ended`);
  }
}

/** A path this backup already holds (written before, or in an earlier run) is the client's mistake, not the store's. */
function copyOrRefuse<T>(copy: () => T, label: () => string): T {
  try {
    return copy();
  } catch (error) {
    if ((error as { code?: unknown }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new ProtocolError(`${label()}: a path in it was sent twice`);
    throw error;
  }
}

function contentIdOf(content: ContentRef): number {
  if (!isPending(content)) return content.id;
  if (content.id === undefined) throw new Error('a pending content was not flushed before its entry');
  return content.id;
}

export type { ContentRef, PendingContent };
