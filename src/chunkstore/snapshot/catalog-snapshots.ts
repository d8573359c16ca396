// Sends consistent, compressed and sealed copies of the catalog to the bucket, so a server whose disk is
// lost can be rebuilt from the bucket alone (`recover`). Asked for after every commit, delete and GC, but
// taken at most once per interval under load; the newest few generations are kept. A catalog older than the
// bucket's newest snapshot (put back from an older copy) stores none until the operator chooses (generation-fence.ts).
import { randomBytes } from 'node:crypto';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ObjectExistsError, type PackBackend } from '../backend/pack-backend';
import { S3RequestError } from '../backend/s3/s3-errors';
import type { Catalog } from '../catalog/catalog';
import { sealFile } from '../crypto/sealed-file';
import type { StoreKey } from '../crypto/store-key';
import type { StagingBudget } from '../pack/staging-budget';
import { generationOf, snapshotName } from './snapshot-names';
import { knownGeneration, recordKnownGeneration, SnapshotFencedError } from './generation-fence';
import { BackupError, errorMessage } from '../../common/errors';
import type { Logger } from '../../common/logger';

export const SNAPSHOTS_KEPT = 3;

export interface SnapshotSettings {
  readonly catalog: Catalog;
  readonly backend: PackBackend;
  readonly key: StoreKey;
  readonly storeId: string;
  readonly stagingDirectory: string;
  /** The staging folder's bound, shared with the pack writers; default: unbounded. */
  readonly budget?: StagingBudget;
  /** Least time between two snapshots; requests within it are gathered into one at its end. */
  readonly minIntervalMs: number;
  /** Least time from a failed snapshot to the next try when the interval is shorter; default RETRY_AFTER_FAILURE_MS. */
  readonly retryAfterFailureMs?: number;
  readonly logger?: Logger;
  /**
   * The operator chose this catalog over newer snapshots in the bucket (accept-catalog): it adopts the bucket's newest
   * generation, and its next snapshots prune them. Without it such a bucket fences every snapshot (SnapshotFencedError).
   */
  readonly acceptsOlderCatalog?: boolean;
}

/**
 * With an interval of 0 (a snapshot after every change) a failed snapshot was tried again at once, and a bucket
 * refusing them (a quota, an outage) had the whole catalog copied and sealed back to back: 150 times in 2 s.
 */
export const RETRY_AFTER_FAILURE_MS = 10_000;

export interface SnapshotFigures {
  readonly taken: number;
  readonly failed: number;
  /** Newest generation this server put in the bucket; 0 before the first. */
  readonly lastGeneration: number;
  /** When it was taken (ms since the epoch); 0 before the first. */
  readonly lastAt: number;
  readonly lastBytes: number;
  readonly lastError: string | undefined;
  /** Something changed in the catalog since the last snapshot: the part a lost server would lose. */
  readonly isPending: boolean;
}

/** The snapshot flush() waited for was not stored: what it was to save is not in the bucket. */
export class SnapshotFailedError extends BackupError {
  constructor(reason: string, options?: { cause?: unknown }) {
    super('IO', `catalog snapshot failed: ${reason}`, options);
  }
}

/**
 * flush() after close(): no snapshot starts once the store is closing (its bucket lease may be released
 * already); the changes it would have saved stay in the catalog, and the next start snapshots them.
 */
export class SnapshotsClosedError extends BackupError {
  constructor() {
    super('IO', 'catalog snapshot not taken: the store is closed');
  }
}

/** One snapshot attempt: the changes it holds (all counted before its copy began), and its failure if any. */
interface RunOutcome {
  readonly holdsThrough: number;
  readonly error?: unknown;
}

export class CatalogSnapshots {
  private generation: number | undefined;
  private running: Promise<RunOutcome> | undefined;
  /** Changes counted so far (request, markChanged): a snapshot holds those counted before its run began. */
  private changes = 0;
  /** The changes the newest stored snapshot holds. */
  private storedThrough = 0;
  private timer: NodeJS.Timeout | undefined;
  private isPending = false;
  /** An urgent request (after gc) came while a snapshot was running: the next one must not wait for the interval. */
  private isUrgent = false;
  private isClosed = false;
  /** When the last snapshot began, taken or failed: a failed one is tried again an interval later, not at once. */
  private lastTriedAt = 0;
  private figures: Omit<SnapshotFigures, 'isPending'> = { taken: 0, failed: 0, lastGeneration: 0, lastAt: 0, lastBytes: 0, lastError: undefined };

  constructor(private readonly settings: SnapshotSettings) {}

  /** The least time from a failed attempt to the next: the interval, or RETRY_AFTER_FAILURE_MS when that is shorter. */
  private get spacingAfterFailureMs(): number {
    return Math.max(this.settings.minIntervalMs, this.settings.retryAfterFailureMs ?? RETRY_AFTER_FAILURE_MS);
  }

  /**
   * At open, before anything may ask for a snapshot: a bucket holding a snapshot newer than this catalog knows is
   * said loudly, and is the failure of every snapshot until the operator recovers or accepts (SnapshotFencedError).
   * Returns that fence, or undefined.
   */
  async checkGeneration(): Promise<SnapshotFencedError | undefined> {
    try {
      await this.unfencedNewestGeneration();
      return undefined;
    } catch (error) {
      if (!(error instanceof SnapshotFencedError)) {
        // The first snapshot lists the bucket again, and fails (and says so) if it cannot.
        this.settings.logger?.warn(`could not list the catalog snapshots in ${this.settings.backend.location}: ${errorMessage(error)}`);
        return undefined;
      }
      this.settings.logger?.error(error.message);
      this.figures = { ...this.figures, lastError: error.message };
      return error;
    }
  }

  /** The catalog changed: a snapshot follows now, or at the end of the interval since the last one. */
  request(isUrgent = false): void {
    if (this.isClosed) return;
    this.changes++;
    this.isPending = true;
    if (isUrgent) this.isUrgent = true;
    this.schedule();
  }

  /** Starts a run for the pending changes now, or sets the timer for the end of the interval. */
  private schedule(): void {
    if (this.running !== undefined) return; // the run re-checks isPending (and isUrgent) when it ends
    // From the last attempt, not the last success: after a failure that will not pass (a quota, a refused
    // key) the whole catalog was copied and sealed again at once, over and over.
    const hasFailed = this.figures.lastError !== undefined;
    const spacing = hasFailed ? this.spacingAfterFailureMs : this.settings.minIntervalMs;
    const wait = this.isUrgent ? 0 : Math.max(0, Math.max(this.figures.lastAt, this.lastTriedAt) + spacing - Date.now());
    if (wait === 0) {
      this.startRun();
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      if (this.running === undefined && this.isPending) this.startRun();
    }, wait);
  }

  /** The catalog changed in a way that must reach the bucket before some deletion; flush() then saves it. */
  markChanged(): void {
    this.changes++;
    this.isPending = true;
  }

  /**
   * Resolves once a snapshot holding every change so far is in the bucket; rejects (SnapshotFailedError) if the
   * first snapshot begun after this call is not stored. A run in flight at the call may have copied the catalog
   * before the latest change: it does not count, and neither does the isPending flag, which the next run clears
   * as it begins, before it has stored anything.
   */
  async flush(): Promise<void> {
    const wanted = this.changes;
    while (this.storedThrough < wanted) {
      // close() takes the last run itself; a flush after it (a restore's lease ending during store.close()) starts none.
      if (this.running === undefined && this.isClosed) throw new SnapshotsClosedError();
      if (this.running === undefined) this.startRun();
      const outcome = await this.running!;
      if (outcome.error !== undefined && outcome.holdsThrough >= wanted) {
        throw new SnapshotFailedError(errorMessage(outcome.error), { cause: outcome.error });
      }
    }
  }

  get status(): SnapshotFigures {
    return { ...this.figures, isPending: this.isPending };
  }

  /** Takes the last snapshot if changes are waiting for one (a stopping server leaves nothing behind), then stops. */
  async close(): Promise<void> {
    this.isClosed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    while (this.running !== undefined) await this.running;
    if (!this.isPending) return;
    this.startRun();
    await this.running;
  }

  private startRun(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.isUrgent = false;
    this.running = this.takeLogged().finally(() => {
      this.running = undefined;
      if (this.isPending && !this.isClosed) this.schedule();
    });
  }

  /** A failed snapshot fails no backup: it is logged, counted, and tried again an interval after it began. */
  private async takeLogged(): Promise<RunOutcome> {
    // Counted before the copy begins: a change after this point may be missing from it.
    const holdsThrough = this.changes;
    this.isPending = false;
    this.lastTriedAt = Date.now();
    try {
      await this.take();
      this.storedThrough = Math.max(this.storedThrough, holdsThrough);
      return { holdsThrough };
    } catch (error) {
      this.isPending = true;
      this.figures = { ...this.figures, failed: this.figures.failed + 1, lastError: errorMessage(error) };
      this.settings.logger?.warn(`catalog snapshot to ${this.settings.backend.location} failed (tried again ${Math.round(this.spacingAfterFailureMs / 1000)} s after this one began): ${errorMessage(error)}`);
      return { holdsThrough, error };
    }
  }

  private async take(): Promise<void> {
    const { catalog, backend, key, storeId, stagingDirectory } = this.settings;
    const base = join(stagingDirectory, `snapshot-${randomBytes(6).toString('hex')}`);
    // The copy and its sealed twin sit in the staging folder together; the catalog's size bounds each.
    const staged = 2 * await catalogBytes(catalog.file);
    await this.settings.budget?.reserve(staged);
    try {
      let hasMadeRoom = false;
      for (let attempt = 0; ; attempt++) {
        const generation = (this.generation ?? await this.unfencedNewestGeneration()) + 1;
        const name = snapshotName(generation);
        // Before the copy: the snapshot holds its own number (a catalog recovered from it knows it), and a crash
        // after the put leaves a catalog that knows the bucket's newest, not one fenced by its own snapshot.
        recordKnownGeneration(catalog, generation);
        if (attempt > 0) await rm(`${base}.db`, { force: true });
        await catalog.copyTo(`${base}.db`);
        // Sealed under its own name: an old generation cannot be passed off as a newer one.
        await sealFile(key, { storeId, name }, `${base}.db`, `${base}.sealed`);
        try {
          await backend.putBlob(name, `${base}.sealed`);
        } catch (error) {
          // A full bucket (its quota): delete before writing, once. The older generations go first, the newest one stays; without
          // this no snapshot could be stored, so GC deleted no doomed pack (each waits for one), and deleting backups freed nothing.
          if (isStorageFull(error) && !hasMadeRoom) {
            hasMadeRoom = true;
            if (await this.makeRoom(errorMessage(error)) > 0) continue;
          }
          // Another server on the same bucket (or a lost answer) took the name: look again, once.
          if (!(error instanceof ObjectExistsError) || attempt > 0) throw error;
          this.generation = undefined;
          continue;
        }
        this.generation = generation;
        const { size } = await stat(`${base}.sealed`);
        this.figures = { ...this.figures, taken: this.figures.taken + 1, lastGeneration: generation, lastAt: Date.now(), lastBytes: size, lastError: undefined };
        break;
      }
      await this.prune();
    } finally {
      await Promise.all(['.db', '.db-journal', '.db-wal', '.db-shm', '.sealed'].map((suffix) => rm(`${base}${suffix}`, { force: true })));
      this.settings.budget?.release(staged);
    }
  }

  /**
   * The bucket's newest generation. One newer than any this catalog knows fences the snapshot (SnapshotFencedError),
   * unless the operator accepted this catalog: its snapshots would take the next numbers and prune the newer catalog's.
   */
  private async unfencedNewestGeneration(): Promise<number> {
    const { catalog, backend, logger } = this.settings;
    const newest = await this.newestGeneration();
    // A catalog that never stored a snapshot (or stored its last with a version that did not record it) cannot tell.
    const known = knownGeneration(catalog);
    if (known === undefined || newest <= known) return newest;
    if (this.settings.acceptsOlderCatalog !== true) throw new SnapshotFencedError(catalog.file, backend.location, newest, known);
    recordKnownGeneration(catalog, newest);
    logger?.warn(`${catalog.file} accepted over the newer catalog snapshots in ${backend.location} (generations ${known + 1} to ${newest}): `
      + 'its next snapshots prune them');
    return newest;
  }

  private async newestGeneration(): Promise<number> {
    let newest = 0;
    for await (const blob of this.settings.backend.listBlobs()) newest = Math.max(newest, generationOf(blob.name) ?? 0);
    return newest;
  }

  /** Deletes every generation but the newest, for room in a full bucket; returns how many went. */
  private async makeRoom(reason: string): Promise<number> {
    const generations: number[] = [];
    for await (const blob of this.settings.backend.listBlobs()) {
      const generation = generationOf(blob.name);
      if (generation !== undefined) generations.push(generation);
    }
    generations.sort((a, b) => b - a);
    const older = generations.slice(1);
    if (older.length === 0) return 0;
    this.settings.logger?.warn(`${this.settings.backend.location} is full (${reason}): deleting the older catalog snapshots `
      + `(${older.map((generation) => snapshotName(generation)).join(', ')}) to store the new one; ${snapshotName(generations[0])} stays`);
    for (const old of older) await this.settings.backend.deleteBlob(snapshotName(old));
    return older.length;
  }

  /** Older generations go once a newer one is stored; a failed delete is retried at the next snapshot. */
  private async prune(): Promise<void> {
    const generations: number[] = [];
    for await (const blob of this.settings.backend.listBlobs()) {
      const generation = generationOf(blob.name);
      if (generation !== undefined) generations.push(generation);
    }
    generations.sort((a, b) => b - a);
    for (const old of generations.slice(SNAPSHOTS_KEPT)) await this.settings.backend.deleteBlob(snapshotName(old));
  }
}

/** A write the object store refused for want of room: a bucket or user quota (Ceph, MinIO), or a full store (HTTP 507). */
function isStorageFull(error: unknown): boolean {
  return error instanceof S3RequestError && (error.s3Code === 'QuotaExceeded' || error.status === 507);
}

/** The catalog with its write-ahead log: at most what a copy of it takes. */
async function catalogBytes(file: string): Promise<number> {
  const sizes = await Promise.all([file, `${file}-wal`].map((part) => stat(part).then((found) => found.size, () => 0)));
  return sizes[0] + sizes[1];
}
