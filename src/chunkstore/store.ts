// The chunk store: a catalog (SQLite) and packs in a backend, opened once by the server. It owns
// its sessions (write sessions for backups, readers for restores), garbage collection and check;
// callers hand over entries and bytes and never see SQL, pack files or codecs.
import { mkdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Catalog } from './catalog/catalog';
import type { BackupPoint, BackupRecord, ChunkLocation, NewChunkRow, StoredEntry, UnchangedCheckEntry } from './catalog/records';
import { ChunkCodec, type EncodedChunk } from './codec';
import { EncoderPool } from './encoder-pool';
import { loadChunkerFactory } from './chunker/registry';
import type { ChunkerFactory, ChunkerParams } from './chunker/chunker';
import { recoverStore, type RecoveryReport } from './recovery';
import { NO_KEPT_PACKS } from './kept-packs';
import { assertChainStands, chainOf } from './session/partial-chain';
import { collectGarbage, GarbageCollectionError, type GarbageReport } from './gc/garbage-collector';
import { DoomedPacks } from './gc/doomed-packs';
import { OpenSessions } from './session/open-sessions';
import { BackupSession } from './session/backup-session';
import { DEFAULT_PACK_TARGET_SIZE, PackWriter } from './pack/pack-writer';
import { CoverDeletions, newCoverWriter } from './pack/cover-writer';
import { StagingBudget, type StagingFigures } from './pack/staging-budget';
import { PackCache, type PackCacheFigures } from './cache/pack-cache';
import { CachedBackend } from './cache/cached-backend';
import { healDamagedChunks } from './check/heal';
import { affectedFiles } from './check/affected';
import { BackupReader, type ReaderOptions } from './read/backup-reader';
import { ReaderLeases } from './read/reader-leases';
import { assertStillCommitted } from './read/still-committed';
import type { PackBackend } from './backend/pack-backend';
import { LocalBackend } from './backend/local-backend';
import { checkStore, type CheckOptions, type CheckReport } from './check';
import { SpaceReserve, giveUpReserveIfFull } from './space-reserve';
import type { RemovedFile } from './catalog/repair-queries';
import type { ClientUsage, UsageSharing } from './catalog/usage-queries';
import { acquireProcessLock } from './process-lock';
import { PLAIN_FRAMING, type RecordFraming } from './pack/record-framing';
import { SEALED_FRAMING_OVERHEAD, SealedFraming } from './crypto/sealed-framing';
import type { StoreKey } from './crypto/store-key';
import { establishIdentity, IDENTITY_BLOB, restoreMissingIdentity } from './store-identity';
import { BucketLease, type LeaseStatus } from './lease/bucket-lease';
import { LeaseGuardedBackend } from './lease/lease-guarded-backend';
import { CatalogSnapshots, type SnapshotFigures } from './snapshot/catalog-snapshots';
import type { SnapshotFencedError } from './snapshot/generation-fence';
import { BackupError, ConfigError, CorruptError, DiskFullError, errorMessage, NotFoundError } from '../common/errors';
import type { Logger } from '../common/logger';
import type { S3Backend } from './backend/s3/s3-backend';
import type { S3BackendOptions } from './backend/s3/s3-options';
import type { StoredBytesLimit } from './session/stored-limit';

export interface StoreOptions {
  /** For a new store; an existing one keeps its own unless isChunkerChosen (then they must match). */
  readonly chunker: ChunkerParams;
  /** The configuration names a chunker: a store made with another is refused. Default true. */
  readonly isChunkerChosen?: boolean;
  readonly compressionLevel: number;
  /** The config file that chose the chunker, named in errors. */
  readonly configFile?: string;
  /** Worker threads compressing chunks; 0 compresses on the calling thread. Default: one less than the cores, between 1 and 3. */
  readonly encoderThreads?: number;
  /** Where sealed packs go; default: the store's own folder. */
  readonly backend?: PackBackend;
  /** Seals every pack record (and catalog snapshots) with this key; required to open a store made with one. */
  readonly encryptionKey?: StoreKey;
  /** Least seconds between two catalog snapshots to a bucket; 0: after every change. Default 120. */
  readonly snapshotIntervalSeconds?: number;
  readonly logger?: Logger;
  /** How long chunks an unfinished backup stored stay for its retry; default 24 hours. */
  readonly resumeHoldSeconds?: number;
  /** A pack is sealed (and uploaded) once it reaches this size; default 64 MiB. */
  readonly packSize?: number;
  /**
   * The most the staging folder may hold (packs being filled or waiting for upload, catalog snapshots);
   * writers wait for uploads beyond it. Default: unbounded (a local store moves its packs, it never uploads).
   */
  readonly stagingMaxBytes?: number;
  /**
   * Bytes of recently read pack ranges kept under directory/cache (LRU) for restores and GC compaction;
   * 0 or absent: no cache (a local store reads its own folder).
   */
  readonly cacheBytes?: number;
  /** Entries a backup session gathers before writing them (and its contents) in one transaction; default 4096. Tests lower it. */
  readonly entriesPerFlush?: number;
  /**
   * A bucket's multipart uploads of this store started longer ago than this are aborted at open (a
   * crash's leftovers); default 24 hours, far beyond any upload. Tests set 0.
   */
  readonly abandonedUploadSeconds?: number;
  /**
   * `gc --delete-unknown-packs`: delete the objects in the packs area the catalog does not name and no crash of
   * this store left (recovery.ts: keptPacks), those kept since `recover` too. Every other open keeps and names them.
   */
  readonly deleteUnknownPacks?: boolean;
  /**
   * `accept-catalog`: keep this catalog although the bucket holds newer catalog snapshots (a catalog.db put back from an
   * older copy); its snapshots then prune those. Without it such a store stores no snapshot (snapshot/generation-fence.ts).
   */
  readonly acceptOlderCatalog?: boolean;
  /**
   * Write the bytes of a chunk only other clients hold as if new, then drop them (cover-writer.ts), so that
   * the time a backup takes does not tell its client what other clients hold. Default true.
   */
  readonly hideSharedChunks?: boolean;
}

export interface BeginOptions {
  readonly kind: number;
  readonly hostname: string;
  readonly labels: Readonly<Record<string, string>>;
  /** The client's backup whose entries unchanged files point at; 0 for none. */
  readonly parentNumber: number;
  /** The most the backup may store, its client's own copies as its usage counts them (the server's hard_quota). */
  readonly storedLimit?: StoredBytesLimit;
}

export interface StoreFigures {
  readonly backups: number;
  /** Sum of the kept backups' logical sizes: what restoring every one of them would write. */
  readonly logicalBytes: number;
  /** Sum of the chunks' raw sizes: the data after dedup, before compression. */
  readonly uniqueBytes: number;
  /** Sum of the chunks' stored sizes: after dedup and compression. */
  readonly storedBytes: number;
  readonly chunks: number;
  readonly packs: number;
  /** Bytes of the packs as stored in the backend. */
  readonly packBytes: number;
  readonly openSessions: number;
}

export type { BackupPoint, BackupRecord, StoredEntry, UnchangedCheckEntry } from './catalog/records';
export { describeDamagedPacks, describeRepairedCounts, GarbageCollectionError, type GarbageReport } from './gc/garbage-collector';
export type { RecoveryReport } from './recovery';
export { describeKeptPacks, type KeptPacks } from './kept-packs';
export { assertStoreExists, isStoreMissing } from './store-presence';
export type { BackupSession } from './session/backup-session';
export type { RemovedFile } from './catalog/repair-queries';
export type { ClientUsage, UsageSharing } from './catalog/usage-queries';
export type { SnapshotFigures } from './snapshot/catalog-snapshots';
export type { StagingFigures } from './pack/staging-budget';
export type { PackCacheFigures } from './cache/pack-cache';
// What a server needs to open a store on a bucket with its key, without reaching into the backend's folders.
export type { S3Backend } from './backend/s3/s3-backend';
export type { LeaseStatus } from './lease/bucket-lease';
export { loadS3Credentials } from './backend/s3/credentials';
export { LATENCY_BOUNDS_SECONDS, type S3Stats } from './backend/s3/s3-metrics';
export { S3AuthError, S3RequestError } from './backend/s3/s3-errors';
export { loadKeyFile } from './crypto/key-file';
export type { StoreKey } from './crypto/store-key';

/**
 * S3Backend.open, its module loaded on first use: the S3 SDK behind it costs a server ~0.1 s at
 * start-up, which a store in a local folder never needs.
 */
export async function openS3Backend(options: S3BackendOptions & { readonly createBucket?: boolean }): Promise<S3Backend> {
  const { S3Backend } = await import('./backend/s3/s3-backend');
  return S3Backend.open(options);
}

const DEFAULT_RESUME_HOLD_SECONDS = 24 * 3600;
const DEFAULT_ABANDONED_UPLOAD_SECONDS = 24 * 3600;
const DEFAULT_SNAPSHOT_INTERVAL_SECONDS = 120;

export class ChunkStore {
  private recoveryReport: RecoveryReport = {
    droppedBackups: 0, droppedChunks: 0, removedOrphanPacks: 0, removedCoverPacks: 0, removedUnknownPacks: 0,
    keptOrphanPacks: 0, keptUnknownPacks: 0, keptPacks: NO_KEPT_PACKS, missingPacks: 0, shortPacks: 0, longPacks: 0,
  };
  private readonly sessions = new OpenSessions();
  private readonly readers: ReaderLeases;
  private readonly doomed: DoomedPacks;
  private readonly encoderPool: EncoderPool | undefined;
  private readonly localCodec: ChunkCodec;
  private readonly readCodec: ChunkCodec;
  private readonly reserve: SpaceReserve;
  /** GC and check run one at a time (never beside each other); backups and restores go on meanwhile. */
  private maintenanceTail: Promise<unknown> = Promise.resolve();
  /** Catalog snapshots to the bucket; only for a store whose packs leave the server. */
  private snapshots: CatalogSnapshots | undefined;
  private fence: SnapshotFencedError | undefined;
  /** Only for a store whose packs leave the server: the bucket is this server's alone while it holds this. */
  private bucketLease: BucketLease | undefined;
  /** The backend as opened, without the read cache or the lease's guard: for status figures and check. */
  private bucket: PackBackend | undefined;
  private hidesSharedChunks = true;
  private readonly coverDeletions: CoverDeletions;

  private constructor(
    readonly directory: string,
    private readonly catalog: Catalog,
    private readonly backend: PackBackend,
    readonly chunkerFactory: ChunkerFactory,
    readonly compressionLevel: number,
    private readonly releaseProcessLock: () => Promise<void>,
    encoderThreads: number,
    private readonly logger: Logger | undefined,
    private readonly resumeHoldMs: number,
    private readonly entriesPerFlush: number | undefined,
    private readonly framing: RecordFraming,
    private readonly packing: { readonly budget: StagingBudget; readonly targetSize: number; readonly beforePut: (name: string) => void },
  ) {
    this.localCodec = new ChunkCodec(compressionLevel);
    this.readCodec = new ChunkCodec(compressionLevel);
    // A deletion forgets none of a client's chunks that a running backup of that client holds; what it
    // deferred is looked at again when that backup ends, however it ends (an abandon whose writes failed too).
    catalog.clientChunks.sessionHolds = (clientId) => this.sessions.heldFor(clientId);
    this.sessions.onClosed = (clientId) => {
      try {
        catalog.transaction(() => catalog.clientChunks.forgetUnreferenced(clientId));
      } catch (error) {
        // Looked at again at the client's next backup's start, or by recovery.
        logger?.warn(`what a deletion left to the end of a backup of client "${catalog.checks.clientNameOf(clientId) ?? `#${clientId}`}" could not be forgotten yet: ${errorMessage(error)}`);
      }
    };
    this.encoderPool = encoderThreads > 0 ? new EncoderPool(encoderThreads, compressionLevel) : undefined;
    this.readers = new ReaderLeases(() => {
      // In the background of a reader's end: a failure (a catalog that cannot record the deletion) is said, the
      // doomed packs stay for the next chance, and the server goes on.
      this.doomed.deleteReady().catch((error: unknown) => logger?.warn(`doomed packs a reader kept stay for now: ${errorMessage(error)}`));
    });
    this.doomed = new DoomedPacks(catalog, backend, this.readers, logger, {
      onDoomed: () => this.snapshots?.markChanged(),
      beforeDelete: async () => { await this.snapshots?.flush(); },
    });
    this.reserve = new SpaceReserve(directory);
    this.coverDeletions = new CoverDeletions(backend, logger, (name) => catalog.transaction(() => catalog.packs.forgetIntent(name)));
  }

  /** What opening the store had to clean up after a crash. */
  get recovery(): RecoveryReport {
    return this.recoveryReport;
  }

  static async open(directory: string, options: StoreOptions): Promise<ChunkStore> {
    await mkdir(join(directory, 'staging'), { recursive: true, mode: 0o700 });
    const releaseProcessLock = await acquireProcessLock(directory);
    let catalog: Catalog | undefined;
    let store: ChunkStore | undefined;
    let lease: BucketLease | undefined;
    try {
      const key = options.encryptionKey;
      if (await giveUpReserveIfFull(directory)) {
        options.logger?.warn('the store\'s disk is full: gave up the space reserve to open the catalog (it is taken again once there is room)');
      }
      catalog = new Catalog(join(directory, 'catalog.db'), key === undefined ? PLAIN_FRAMING.overhead : SEALED_FRAMING_OVERHEAD, options.logger);
      const bucket = options.backend ?? new LocalBackend(directory);
      // Before anything reads a pack: the wrong key, or a bucket holding another store, stops here.
      const identity = await establishIdentity({
        catalog, backend: bucket, key, stagingDirectory: join(directory, 'staging'), configFile: options.configFile ?? catalog.file,
      });
      // Before recovery, which deletes what the catalog does not know: in a bucket another server
      // writes to, that is the other server's newest packs.
      if (bucket.kind !== 'local') {
        lease = await BucketLease.take({
          backend: bucket, directory, stagingDirectory: join(directory, 'staging'), logger: options.logger,
          seal: key === undefined ? undefined : { key, storeId: identity.storeId },
        });
      }
      const heldLease = lease;
      const writable = heldLease === undefined ? bucket : new LeaseGuardedBackend(bucket, () => heldLease.assertHeld());
      // Through the lease's guard: only the bucket's holder aborts anything there.
      if (heldLease !== undefined) await abortAbandonedUploads(writable, options);
      // The identity matched this catalog above (from whichever copy was there): a copy the bucket lacks is written again,
      // so that one deleted blob never leaves `recover` without the store id its snapshots are sealed with.
      if (heldLease !== undefined) {
        const restored = await restoreMissingIdentity(writable, identity, join(directory, 'staging'));
        if (restored.includes(IDENTITY_BLOB)) {
          options.logger?.warn(`${bucket.location} had lost ${IDENTITY_BLOB}: written again from this catalog's store identity (store ${identity.storeId})`);
        } else if (restored.length > 0) {
          options.logger?.info(`${bucket.location}: stored a second copy of the store identity (${restored.join(', ')})`);
        }
      }
      const backend = await cachedReads(writable, directory, catalog, options);
      const framing = key === undefined ? PLAIN_FRAMING : new SealedFraming(key, identity.storeId);
      const chunker = storeChunker(catalog, options);
      const chunkerFactory = await loadChunkerFactory(chunker);
      const encoderThreads = options.encoderThreads ?? Math.max(1, Math.min(availableParallelism() - 1, 3));
      const opened = catalog;
      store = new ChunkStore(directory, catalog, backend, chunkerFactory, options.compressionLevel, releaseProcessLock,
        encoderThreads, options.logger, (options.resumeHoldSeconds ?? DEFAULT_RESUME_HOLD_SECONDS) * 1000, options.entriesPerFlush, framing,
        {
          budget: new StagingBudget(options.stagingMaxBytes, options.logger), targetSize: options.packSize ?? DEFAULT_PACK_TARGET_SIZE,
          // Durable before the put: a crash after it leaves an object recovery knows as its own (pack_intents).
          beforePut: (name) => opened.transaction(() => opened.packs.recordIntent(name, Date.now()), true),
        });
      store.bucketLease = lease;
      store.bucket = bucket;
      store.hidesSharedChunks = options.hideSharedChunks ?? true;
      // Before recovery, which deletes the packs GC doomed: only once a snapshot that no longer names them is
      // stored (DoomedPacks' beforeDelete hook), or a recovered catalog would name deleted packs.
      if (key !== undefined && backend.kind !== 'local') {
        store.snapshots = new CatalogSnapshots({
          catalog, backend, key, storeId: identity.storeId, stagingDirectory: store.stagingDirectory, logger: options.logger, budget: store.packing.budget,
          minIntervalMs: (options.snapshotIntervalSeconds ?? DEFAULT_SNAPSHOT_INTERVAL_SECONDS) * 1000,
          acceptsOlderCatalog: options.acceptOlderCatalog,
        });
        // Said at start, before recovery may ask for one: a catalog older than the bucket's newest snapshot stores none.
        store.fence = await store.snapshots.checkGeneration();
        // Then the packs this catalog does not name are likely the newer catalog's: never deleted on a word given blind.
        if (store.fence !== undefined && options.deleteUnknownPacks === true) {
          throw new BackupError('IO', `--delete-unknown-packs refused: ${store.fence.message}`);
        }
        // Nothing tells whether the last process stored a snapshot of its last changes (it may have crashed within
        // the interval, or its snapshot at close failed): the catalog counts as changed since the bucket's newest.
        store.snapshots.markChanged();
      }
      store.recoveryReport = await recoverStore(catalog, backend, store.readCodec, store.stagingDirectory, store.doomed, framing, {
        resumeHoldMs: store.resumeHoldMs, logger: options.logger, deleteUnknownPacks: options.deleteUnknownPacks === true,
        isFenced: store.fence !== undefined || options.acceptOlderCatalog === true, bucket: writable });
      // After recovery: the unfinished backups it dropped no longer count as references.
      if (forgetStaleClientChunksOnce(catalog, options.logger)) store.snapshots?.markChanged();
      await store.reserve.take();
      // Once the store is open (and after recovery swept the staging folder, where snapshots are staged); none if
      // recovery's delete of doomed packs just took one.
      if (store.snapshots?.status.isPending === true) store.snapshots.request();
      return store;
    } catch (error) {
      await store?.encoderPool?.close();
      await lease?.release().catch(() => undefined);
      catalog?.close();
      await releaseProcessLock();
      throw error;
    }
  }

  get chunker(): ChunkerParams {
    return this.chunkerFactory.params;
  }

  private get stagingDirectory(): string {
    return join(this.directory, 'staging');
  }

  /** Compresses and verifies one chunk, on a worker thread when the store has them. */
  private encode(raw: Buffer): Promise<EncodedChunk> {
    // Small chunks go to the worker too: the pool sends them in groups, and compressing them here
    // took a fifth of the main thread's time on a tree of small files.
    if (!this.encoderPool) return Promise.resolve(this.localCodec.encode(raw));
    return this.encoderPool.encode(raw);
  }

  // ---- backups and their entries ----

  /** The client's committed backups, oldest first. */
  listBackups(clientName: string): BackupRecord[] {
    const clientId = this.catalog.clients.find(clientName);
    return clientId === undefined ? [] : this.catalog.backups.committed(clientId);
  }

  /** A committed backup by number, or the newest for 0. */
  findBackup(clientName: string, number: number): BackupRecord | undefined {
    const clientId = this.catalog.clients.find(clientName);
    if (clientId === undefined) return undefined;
    const backup = number === 0 ? this.catalog.backups.latestCommitted(clientId) : this.catalog.backups.byNumber(clientId, number);
    return backup?.state === 'committed' ? backup : undefined;
  }

  /** The client's newest committed complete backup (overdue counts from it), without reading its history. */
  latestCompleteBackup(clientName: string): BackupRecord | undefined {
    const clientId = this.catalog.clients.find(clientName);
    return clientId === undefined ? undefined : this.catalog.backups.latestCommittedComplete(clientId);
  }

  /** Every committed backup of every client, by client then number. */
  allBackups(): BackupRecord[] {
    return this.catalog.backups.allCommitted();
  }

  /** allBackups without the labels (JSON parsed per backup): for figures over the whole history. */
  allBackupPoints(): BackupPoint[] {
    return this.catalog.backups.allCommittedPoints();
  }

  /** Every client that ever started a backup. */
  knownClients(): string[] {
    return this.catalog.clients.allNames();
  }

  /** The backup's entries whose own fields the catalog holds damaged (they are not restorable), with what is wrong. */
  damagedEntries(backup: BackupRecord): { path: Buffer; damage: string; hasContent: boolean }[] {
    return this.catalog.entries.damaged(backup.id);
  }

  /**
   * A backup's entries in path order, read a page at a time. Fails with NotFoundError, naming the backup, when it
   * is deleted while read: a short read would pass for the whole backup.
   */
  entries(backup: BackupRecord): Iterable<StoredEntry> {
    return this.catalog.entries.all(backup.id, undefined, () => assertStillCommitted(this.catalog, backup));
  }

  /** A backup's entries as far as an unchanged-file check needs them, in path order. */
  unchangedCheckEntries(backup: BackupRecord): Iterable<UnchangedCheckEntry> {
    return this.catalog.entries.unchangedCheck(backup.id, undefined, () => assertStillCommitted(this.catalog, backup));
  }

  /**
   * Drops committed backups in one transaction; what only they referenced becomes garbage for the
   * next collection, and what only they referenced among their client's backups is no longer that
   * client's own (ClientChunksTable.forgetUnreferenced, once per client, over the candidates
   * their deletions noted: it reads the deleted backups' rows, not the client's remaining ones).
   * Returns the raw bytes of those chunks: what the deletion released of its clients' own data. What
   * it frees in the store depends on other clients (and on the next collection), so a client is never
   * told that.
   */
  deleteBackups(backups: readonly BackupRecord[]): number {
    if (backups.length === 0) return 0;
    const released = this.catalog.transaction(() => {
      for (const backup of backups) this.catalog.backups.delete(backup.id);
      let rawBytes = 0;
      for (const clientId of new Set(backups.map((backup) => backup.clientId))) rawBytes += this.catalog.clientChunks.forgetUnreferenced(clientId).rawBytes;
      return rawBytes;
    }, true);
    this.snapshots?.request();
    return released;
  }

  /** A change the bucket's snapshot must carry too: a protection a recovered catalog lacked would let retention delete the backup. */
  setProtected(backup: BackupRecord, isProtected: boolean): void {
    this.catalog.backups.setProtected(backup.id, isProtected);
    this.snapshots?.request();
  }

  // ---- sessions ----

  /** Starts a backup of a client; it is visible only once the session commits. */
  async beginBackup(clientName: string, options: BeginOptions): Promise<BackupSession> {
    this.bucketLease?.assertHeld();
    await this.reserve.take();
    const catalog = this.catalog;
    let parent: BackupRecord | undefined;
    let backup: BackupRecord;
    let chain: readonly BackupRecord[];
    try {
      const clientId = catalog.clients.idOf(clientName);
      chain = chainOf(options.kind, catalog.backups.committed(clientId));
      if (options.parentNumber !== 0) {
        parent = catalog.backups.byNumber(clientId, options.parentNumber);
        if (parent === undefined || parent.state !== 'committed') {
          throw new NotFoundError(`parent backup ${options.parentNumber} of client "${clientName}" does not exist`);
        }
      }
      backup = catalog.transaction(() => {
        // What a deletion deferred for a backup of this client that has ended since (an abandon that could not
        // finish forgets nothing) is looked at before this one is answered anything; running ones defer it again.
        catalog.clientChunks.forgetUnreferenced(clientId);
        return catalog.backups.create(clientId, options.kind, options.hostname, options.labels, Date.now());
      });
    } catch (error) {
      throw catalogWriteError(error, catalog.file);
    }
    const hold = this.sessions.open(backup.clientId);
    const writing = { framing: this.framing, ...this.packing };
    const packWriter = new PackWriter(this.stagingDirectory, this.backend, (sealed) => catalog.transaction(() => {
      const packId = catalog.packs.insert(sealed.name, sealed.size, Date.now());
      const placedElsewhere: NewChunkRow[] = [];
      const ids = catalog.chunks.insertRows(packId, sealed.records, placedElsewhere);
      // Kept for a retry of this client's backup if this one fails, and known to the client from now on.
      catalog.holds.hold(ids, backup.clientId, backup.id, Date.now() + this.resumeHoldMs);
      catalog.clientChunks.add(backup.clientId, sealed.records);
      catalog.clientChunks.placeOwnCopies(backup.clientId, packId, placedElsewhere);
      // Held in the same transaction that makes them visible: a sweep sees them held or not at all.
      for (const id of ids) hold.chunks.add(id);
      return ids;
    }), writing);
    const coverWriter = this.hidesSharedChunks ? newCoverWriter(this.stagingDirectory, this.backend, this.coverDeletions, writing) : undefined;
    return new BackupSession({
      catalog, codec: new ChunkCodec(this.compressionLevel), chunkerFactory: this.chunkerFactory, encode: (raw) => this.encode(raw), packWriter, coverWriter,
      sessions: this.sessions, hold, storedLimit: options.storedLimit,
      resumeHoldMs: this.resumeHoldMs, entriesPerFlush: this.entriesPerFlush,
      onCommitted: () => this.snapshots?.request(),
      // Its packs went up while the lease was held; a backup committed after the bucket changed hands would name packs the new holder deletes.
      beforeCommit: () => {
        this.bucketLease?.assertHeld();
        // Deleted with --force while this partial ran: committed, it would stand on nothing.
        assertChainStands(catalog, backup, chain);
      },
      onCleanupFailure: async (error) => {
        if (!(await this.reserve.release())) throw error;
        this.logger?.warn(`the store's disk is full: gave up the space reserve to record the abandoned backup ${backup.number} of ${clientName}`);
      },
    }, backup, parent);
  }

  /** Reads a committed backup's entries with their contents. */
  openReader(backup: BackupRecord, options: ReaderOptions = {}): BackupReader {
    return new BackupReader(this.catalog, this.backend, this.readCodec, this.framing, this.readers.open(), backup, options,
      (location) => this.markFoundDamaged(location, backup));
  }

  /**
   * A chunk a restore read did not read back intact where its row places it: marked damaged there, as check marks it,
   * so no backup deduplicates against it and the next one holding its bytes stores them again (which heals every file
   * using it). A row moved since (healed, compacted) or an own copy's place (not the row's) is left as it is.
   */
  private markFoundDamaged(location: ChunkLocation, backup: BackupRecord): void {
    let marked: number;
    try {
      marked = this.catalog.chunks.markDamaged([{ chunkId: location.chunkId, packId: location.packId, offset: location.offset }]);
    } catch (error) {
      // The restore reports the damage either way; check finds and marks it.
      this.logger?.warn(`chunk ${location.hash.toString('hex')} found damaged by a restore of backup ${backup.number} of ${backup.clientName} could not be marked: ${errorMessage(error)}`);
      return;
    }
    if (marked === 0) return;
    this.logger?.warn(`chunk ${location.hash.toString('hex')} in pack ${location.packName} at offset ${location.offset}, read for backup ${backup.number} of ${backup.clientName}, `
      + 'is damaged: marked so, the next backup holding its bytes stores them again');
    // A recovered catalog without the mark would deduplicate new backups against the damaged chunk again.
    this.snapshots?.request();
  }

  // ---- maintenance ----

  /** Collects garbage beside running backups and restores; allPacks also compacts packs no deletion touched. */
  collectGarbage(options: { allPacks?: boolean } = {}): Promise<GarbageReport> {
    return this.exclusively(async () => {
      this.bucketLease?.assertHeld();
      let report: GarbageReport;
      try {
        report = await collectGarbage({
          catalog: this.catalog, backend: this.backend, codec: this.readCodec, framing: this.framing, stagingDirectory: this.stagingDirectory, packWriting: this.packing,
          doomed: this.doomed, protection: this.sessions,
        }, options.allPacks === true);
      } catch (error) {
        // What it did before it stopped counts as much: packs it deleted are named by older snapshots.
        if (error instanceof GarbageCollectionError) this.requestSnapshotAfter(error.report);
        throw error;
      }
      this.requestSnapshotAfter(report);
      return report;
    });
  }

  /** At once, not after the interval, when packs went: a snapshot older than a compaction names packs GC deletes. */
  private requestSnapshotAfter(report: GarbageReport): void {
    if (report.deletedChunks + report.rewrittenPacks + report.deletedPacks > 0) this.snapshots?.request(true);
    else if (report.damagedPacks > 0) this.snapshots?.request();
  }

  /**
   * The store's disk is short of space: the chunks held only for the retry of interrupted backups
   * (resume_hold) are a cache, not backups, and are let go of now; the next collection takes them,
   * and their clients forget them in it (a retry sends them again). A running backup's holds stay.
   */
  endRetryHolds(): { backups: number; holds: number } {
    try {
      return this.catalog.transaction(() => this.catalog.holds.endRetryHolds(Date.now()), true);
    } catch (error) {
      throw catalogWriteError(error, this.catalog.file);
    }
  }

  /**
   * When the first hold of an interrupted backup ends (ms since the epoch), or undefined: its chunks, kept
   * for a retry that did not come, are garbage from then on, for the next collection to take.
   */
  nextHoldExpiry(): number | undefined {
    return this.catalog.holds.nextExpiry();
  }

  /** Whether a collection would find work now: unreferenced contents, chunks neither referenced nor held, packs left empty or to compact. */
  hasGarbage(): boolean {
    const counts = this.catalog.garbage.counts();
    return counts.contents + counts.chunks + counts.pendingPacks > 0 || this.catalog.packs.empty().length > 0;
  }

  /**
   * Verifies the store. Chunks found damaged are marked so: no backup deduplicates against them from
   * then on, and the next backup holding the same bytes stores them again, which heals every file
   * that uses them.
   */
  check(options: CheckOptions): Promise<CheckReport> {
    return this.exclusively(async () => {
      const lease = this.readers.open();
      // The packs the check reads are the catalog's now (scanPacks' snapshot, taken in this same turn); no collection
      // runs beside a check, so this keeps only what a collection beside it would doom under it.
      for (const pack of this.catalog.packs.all()) lease.hold(pack.name);
      try {
        // The bucket itself, never the read cache: a check must see what a lost server would recover from (as
        // restic's check, which reads through a fresh temporary cache for the same reason).
        const report = await checkStore(this.catalog, this.packBackend, this.readCodec, this.framing, options);
        const damaged = [...report.damagedChunks, ...report.damagedGarbageChunks];
        if (report.soundAgain.length > 0) {
          // Before --repair acts on the marks: it must take out only files this check found lost.
          this.catalog.chunks.clearDamage(report.soundAgain);
          this.snapshots?.request();
        }
        if (damaged.length > 0) {
          // Each where the check read it: a backup that stored the bytes afresh since then healed the row.
          this.catalog.chunks.markDamaged(damaged.map(({ chunkId, packId, offset }) => ({ chunkId, packId, offset })));
          // A recovered catalog without the marks would deduplicate new backups against the damaged chunks again.
          this.snapshots?.request();
        }
        // Contents whose chunk lists are broken: marked so, every other mark cleared (the scan reads the whole catalog).
        // Unmarked, every later backup deduplicated into them, exit 0, and no restore of the file worked (red team F3).
        const before = this.catalog.contents.markedDamaged().length;
        const added = this.catalog.contents.markDamagedExactly(report.damagedContents);
        if (added > 0 || this.catalog.contents.markedDamaged().length !== before) this.snapshots?.request();
        // Before anything is given up on a damaged chunk (--repair, or the cache evicting the range): a verified copy the
        // server still holds is stored again now. Found by a red team: the cache held d.bin whole while --repair took it out.
        return report.damagedChunks.length === 0 ? report : await this.healFromCopies(report);
      } finally {
        lease.release();
      }
    });
  }

  /** check's healing (check/heal.ts): the report without the chunks stored again, and what they no longer break. */
  private async healFromCopies(report: CheckReport): Promise<CheckReport> {
    const { healed, failures } = await healDamagedChunks({
      catalog: this.catalog, backend: this.backend, bucket: this.packBackend, cache: this.backend instanceof CachedBackend ? this.backend.cache : undefined,
      codec: this.readCodec, framing: this.framing, stagingDirectory: this.stagingDirectory, packWriting: this.packing,
    }, report.damagedChunks);
    if (healed.length === 0 && failures.length === 0) return report;
    if (healed.length > 0) this.snapshots?.request();
    const healedIds = new Set(healed.map((chunk) => chunk.chunkId));
    const damagedChunks = report.damagedChunks.filter((damage) => !healedIds.has(damage.chunkId));
    const affected = affectedFiles(this.catalog, damagedChunks.map((damage) => damage.chunkId), report.damagedContents.map((damage) => damage.contentId));
    return { ...report, damagedChunks, affectedFiles: affected.files, affectedBackups: affected.backups, healedChunks: healed, healFailures: failures };
  }

  /**
   * check --repair: files whose content holds a chunk marked damaged (none of the backups since could
   * heal it), or whose content's chunk list is marked damaged, are taken out of their backups, which are
   * then marked incomplete; returns what is gone.
   */
  repair(): Promise<RemovedFile[]> {
    return this.exclusively(async () => {
      // A damaged index answers lookups with rows that are not the ones asked for: rebuilt from the tables first.
      if (this.catalog.checks.integrityProblems().length > 0) {
        try {
          this.catalog.checks.reindex();
          this.logger?.warn('check --repair: the catalog did not pass SQLite\'s integrity check: its indexes were rebuilt from its tables');
        } catch (error) {
          // Damage beyond the indexes (a table's pages): the files it breaks are still taken out below where known.
          this.logger?.error(`check --repair: the catalog's indexes could not be rebuilt: ${errorMessage(error)}`);
        }
      }
      const removed = this.catalog.repairs.removeLostFiles();
      if (removed.length > 0) this.snapshots?.request();
      return removed;
    });
  }

  /** check --repair, after repair(): removes chunk lists whose content row is gone; returns how many. */
  removeOrphanChunkLists(): Promise<number> {
    return this.exclusively(async () => {
      const removed = this.catalog.repairs.removeOrphanChunkLists();
      if (removed > 0) this.snapshots?.request();
      return removed;
    });
  }

  /**
   * check --repair: forgets what clients are told they hold that none of their backups or holds
   * references (check reports it; nothing should leave it), reading all of every client's entries.
   */
  forgetStaleKnowledge(): Promise<number> {
    return this.exclusively(async () => {
      const forgotten = this.catalog.transaction(() => this.catalog.clientChunks.forgetUnreferencedOfAll(), true);
      if (forgotten > 0) this.snapshots?.request();
      return forgotten;
    });
  }

  /**
   * Contents holding a damaged chunk the client has no own copy of: it must not be told such a file is
   * unchanged, so it sends it again.
   */
  damagedContents(clientId: number): ReadonlySet<number> {
    return this.catalog.contents.damagedIds(clientId);
  }

  /** What the client's data takes in the store, the rule quotas use (usage-queries.ts); zero for a client never seen. */
  clientUsage(clientName: string): ClientUsage {
    const clientId = this.catalog.clients.find(clientName);
    return clientId === undefined ? { bytes: 0, chunks: 0, metadataBytes: 0 } : this.catalog.usage.clientUsage(clientId);
  }

  /** For the operator only: how much of a usage lies in chunks other clients hold too (UsageSharing). */
  usageSharing(clientName: string, usage: ClientUsage): UsageSharing {
    const clientId = this.catalog.clients.find(clientName);
    return clientId === undefined ? { ownBytes: usage.bytes, sharedBytes: 0 } : this.catalog.usage.sharing(clientId, usage);
  }

  figures(): StoreFigures {
    const backups = this.catalog.backups.totals();
    const chunks = this.catalog.chunks.totals();
    return { ...backups, ...chunks, packs: this.catalog.packs.count(), packBytes: this.catalog.packs.totalSize(), openSessions: this.sessions.count };
  }

  /**
   * Found at open when the bucket holds a catalog snapshot newer than this catalog knows: no snapshot is stored until
   * the operator runs `recover` (with this catalog moved aside) or `accept-catalog`.
   */
  get snapshotFence(): SnapshotFencedError | undefined {
    return this.fence;
  }

  get snapshotStatus(): SnapshotFigures | undefined {
    return this.snapshots?.status;
  }

  /** The staging folder: bytes staged now, the most ever staged, the bound, and how often writers waited for room. */
  get stagingStatus(): StagingFigures {
    return this.packing.budget.figures;
  }

  /** Where the packs are, for the status port's figures (an S3Backend has request metrics). */
  get packBackend(): PackBackend {
    return this.bucket ?? this.backend;
  }

  /** The bucket lease (one server per bucket); undefined for a local store. */
  get leaseStatus(): LeaseStatus | undefined {
    return this.bucketLease?.status;
  }

  /** The local read cache (s3_cache_size): hits, misses, bytes, evictions; undefined when there is none. */
  get cacheStatus(): PackCacheFigures | undefined {
    return this.backend instanceof CachedBackend ? this.backend.cache.figures : undefined;
  }

  private exclusively<T>(task: () => Promise<T>): Promise<T> {
    const run = this.maintenanceTail.then(task, task);
    this.maintenanceTail = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    await this.maintenanceTail;
    await this.coverDeletions.settled();
    await this.snapshots?.close();
    await this.encoderPool?.close();
    // After the last snapshot: the lease covers every write.
    await this.bucketLease?.release();
    await this.backend.close();
    this.catalog.close();
    await this.releaseProcessLock();
  }
}

/**
 * Aborts the store's multipart uploads a crash left in the bucket, once per open. Best effort: a failure
 * (a user not allowed to list uploads) costs only the space and is said, never the store's start.
 */
async function abortAbandonedUploads(backend: PackBackend, options: StoreOptions): Promise<void> {
  if (backend.abortIncompleteUploads === undefined) return;
  const graceSeconds = options.abandonedUploadSeconds ?? DEFAULT_ABANDONED_UPLOAD_SECONDS;
  try {
    const aborted = await backend.abortIncompleteUploads(graceSeconds * 1000);
    if (aborted > 0) {
      const grace = graceSeconds >= 3600 ? `${Math.round(graceSeconds / 3600)} hours` : `${graceSeconds} seconds`;
      options.logger?.info(`aborted ${aborted} multipart upload${aborted === 1 ? '' : 's'} in ${backend.location} started over ${grace} ago `
        + 'and never completed (a crash\'s leftovers)');
    }
  } catch (error) {
    options.logger?.warn(`could not abort abandoned multipart uploads in ${backend.location}: ${errorMessage(error)} `
      + '(they hold space in the bucket until aborted; tried again at the next start)');
  }
}

/** The backend with a read cache in front when the options ask for one. */
async function cachedReads(backend: PackBackend, directory: string, catalog: Catalog, options: StoreOptions): Promise<PackBackend> {
  const cacheBytes = options.cacheBytes ?? 0;
  if (cacheBytes <= 0) return backend;
  const knownPacks = new Set(catalog.packs.all().map((pack) => pack.name));
  const cache = await PackCache.open(join(directory, 'cache'), cacheBytes, (name) => knownPacks.has(name), options.logger);
  return new CachedBackend(backend, cache);
}

/** Dedup only works between streams cut by the same chunker, so a store keeps the one it began with. */
function storeChunker(catalog: Catalog, options: StoreOptions): ChunkerParams {
  const recorded = catalog.meta.get('chunker');
  const wanted = JSON.stringify(options.chunker);
  if (recorded === undefined) {
    catalog.meta.set('chunker', wanted);
    return options.chunker;
  }
  // Built-in defaults may change between versions; a store made with older ones keeps them.
  if (recorded !== wanted && options.isChunkerChosen === false) return recordedChunker(recorded, catalog.file);
  if (recorded !== wanted) {
    throw new ConfigError(options.configFile ?? catalog.file, undefined,
      `the store was created with chunker ${recorded} but the configuration asks for ${wanted}; use the store's settings or a new directory`);
  }
  return options.chunker;
}

function recordedChunker(recorded: string, catalogFile: string): ChunkerParams {
  let params: Partial<ChunkerParams>;
  try {
    params = JSON.parse(recorded) as Partial<ChunkerParams>;
  } catch {
    params = {};
  }
  const { name, minSize, avgSize, maxSize } = params;
  if ((name !== 'fastcdc' && name !== 'rabin') || ![minSize, avgSize, maxSize].every((size) => Number.isInteger(size) && (size as number) > 0)) {
    throw new CorruptError(`${catalogFile}: the recorded chunker ${JSON.stringify(recorded)} is not readable`);
  }
  return { name, minSize: minSize!, avgSize: avgSize!, maxSize: maxSize! };
}

/** SQLite out of space is a full store, said the same way as a full pack folder. */
function catalogWriteError(error: unknown, file: string): unknown {
  const code = (error as { code?: string }).code;
  if (code === 'SQLITE_FULL') return new DiskFullError(`store is full: cannot write ${file} (${code})`, { cause: error });
  return error;
}

/** Set once a catalog's client knowledge was pruned of deleted backups (deletions did not forget before). */
const CLIENT_CHUNKS_PRUNED_KEY = 'client_chunks_pruned';

/** True if it changed the catalog. */
function forgetStaleClientChunksOnce(catalog: Catalog, logger: Logger | undefined): boolean {
  if (catalog.meta.get(CLIENT_CHUNKS_PRUNED_KEY) === '1') return false;
  let forgotten: number;
  try {
    forgotten = catalog.transaction(() => {
      const count = catalog.clientChunks.forgetUnreferencedOfAll();
      catalog.meta.set(CLIENT_CHUNKS_PRUNED_KEY, '1');
      return count;
    }, true);
  } catch (error) {
    // Like recovery on a full disk: the store still opens (restores must work), and the next open tries again.
    if ((error as { code?: unknown }).code !== 'SQLITE_FULL') throw error;
    logger?.warn('the store\'s disk is full: clients\' knowledge of chunks from deleted backups is pruned when the store next opens with free space');
    return false;
  }
  if (forgotten > 0) logger?.info(`forgot ${forgotten} chunks that clients knew only through backups deleted earlier`);
  return true;
}
