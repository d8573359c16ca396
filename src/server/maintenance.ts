// Retention after each commit and garbage collection, one run at a time. GC runs beside backups
// and restores (the store holds what open sessions use), so nobody waits for it and it waits for nobody.
import { type ChunkStore, describeDamagedPacks, describeRepairedCounts, GarbageCollectionError, type GarbageReport } from '../chunkstore/store';
import { errorMessage } from '../common/errors';
import type { Logger } from '../common/logger';
import type { ServerConfig } from '../common/config/server-config';
import type { ClientRegistrySource } from './clients/live-client-registry';
import { planClientRetention, retentionPolicyFor } from './retention/client-retention';

/** After a failed collection the hold timer waits at least this, doubling up to the most. */
const MIN_FAILURE_BACKOFF_MILLISECONDS = 60_000;
const MAX_FAILURE_BACKOFF_MILLISECONDS = 3_600_000;
/** setTimeout's longest delay (about 24.8 days); a later hold end is looked at again then. */
const MAX_TIMER_MILLISECONDS = 2 ** 31 - 1;

export class Maintenance {
  private gcRun: Promise<GarbageReport> | undefined;
  /** A run requested while one is in progress: it must see the deletions made meanwhile. */
  private nextGcRun: Promise<GarbageReport> | undefined;
  /** Backups were deleted (retention, an abandoned upload) since the last GC began, or a GC failed: it has work. */
  private hasDroppedBackups = false;
  /** Set by stop(): no collection starts on a store about to close (the next start collects, see collectAtStart). */
  private isStopped = false;
  /** Set when stop() begins: no hold timer is set from then on. */
  private isStopping = false;
  /** Collections asked for after a deletion's reply, not started yet: stop() waits for them too. */
  private readonly deferredRuns = new Set<Promise<void>>();
  /** A collection when the first hold of an interrupted backup ends (collectWhenHoldsEnd). */
  private holdTimer: NodeJS.Timeout | undefined;
  /** When that collection runs (ms since the epoch), or undefined when none is set: for logs and tests. */
  holdCollectionAt: number | undefined;
  /** The least wait before that collection after failed ones: doubled at each failure, 0 after a success. */
  private failureBackoffMs = 0;

  constructor(
    private readonly store: ChunkStore,
    private readonly config: ServerConfig,
    private readonly logger: Logger,
    private readonly clients: ClientRegistrySource,
  ) {}

  /** Deletes the client's backups that retention no longer keeps; returns their numbers. */
  applyRetention(clientName: string): number[] {
    const registry = this.clients.current;
    // A refused record's keep= is unknown: the server's defaults could delete what the client's own rules keep.
    if (registry.isRefused(clientName)) {
      this.logger.warn(`retention for ${clientName} skipped: its client record is refused (see the log of the last load or SIGHUP)`);
      return [];
    }
    const policy = retentionPolicyFor(this.config, registry.byName(clientName));
    const dropped = planClientRetention(this.store, clientName, policy, Date.now())
      .filter(({ decision }) => !decision.isKept).map(({ backup }) => backup);
    this.store.deleteBackups(dropped);
    if (dropped.length > 0) {
      this.hasDroppedBackups = true;
      this.logger.info(`retention for ${clientName}: deleted backups ${dropped.map((b) => b.number).join(', ')}`);
    }
    return dropped.map((backup) => backup.number);
  }

  /**
   * Retention after a commit, then GC if a backup was deleted since the last one began. GC after
   * every commit would sweep nothing on most days.
   */
  afterCommit(clientName: string): void {
    this.applyRetention(clientName);
    if (this.hasDroppedBackups) this.scheduleGarbageCollection();
  }

  /**
   * GC after a deletion by request, once the caller has its reply: how long a collection takes
   * depends on what other clients hold of the deleted backups' chunks, so a reply that waited for it
   * would tell the caller. Started on a later turn of the event loop than the reply; the deletion is
   * already durable, so a collection that fails (a full disk) or is cut by a shutdown loses nothing:
   * it is logged, and the next collection (after a commit, a deletion, or the next start) takes the garbage.
   */
  collectAfterDeletion(what: string): void {
    this.hasDroppedBackups = true;
    const run = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.collectGarbage())
      .then(() => undefined, (error: unknown) => {
        this.logger.error(`gc after ${what} failed: ${errorMessage(error)}; the next collection takes its garbage`);
      })
      .finally(() => this.deferredRuns.delete(run));
    this.deferredRuns.add(run);
  }

  /** At start: garbage left by a collection that failed or was cut short is collected now, not at the next deletion. */
  collectAtStart(): void {
    if (this.store.hasGarbage()) this.scheduleGarbageCollection();
    else this.collectWhenHoldsEnd();
  }

  /**
   * An interrupted backup's chunks are held for its retry (resume_hold); once the hold ends they are
   * garbage, but nothing else may come to collect them for days (a young server deletes no backup).
   * Set after every collection, for the first hold left (after a failed one, not sooner than a backoff).
   */
  private collectWhenHoldsEnd(): void {
    this.clearHoldTimer();
    let endsAt: number | undefined;
    try {
      endsAt = this.isStopping ? undefined : this.store.nextHoldExpiry();
    } catch (error) {
      this.logger.warn(`cannot tell when the holds of interrupted backups end (${errorMessage(error)}); the next deletion or start collects what they kept`);
      return;
    }
    if (endsAt === undefined) return;
    // A second past the end: the sweep expires holds strictly after their time.
    const delay = Math.min(Math.max(Math.max(endsAt - Date.now(), 0) + 1000, this.failureBackoffMs), MAX_TIMER_MILLISECONDS);
    this.holdCollectionAt = Date.now() + delay;
    this.holdTimer = setTimeout(() => {
      this.clearHoldTimer();
      this.scheduleGarbageCollection();
    }, delay);
    this.holdTimer.unref();
  }

  private clearHoldTimer(): void {
    clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
    this.holdCollectionAt = undefined;
  }

  /** Runs GC now, or once more after the one in progress; concurrent callers share the run. Rejects once stopped. */
  collectGarbage(): Promise<GarbageReport> {
    if (this.isStopped) return Promise.reject(new Error('the server is stopping; the garbage is collected after its next start'));
    if (this.gcRun) {
      this.nextGcRun ??= this.gcRun.catch(() => undefined).then(() => {
        this.nextGcRun = undefined;
        return this.collectGarbage();
      });
      return this.nextGcRun;
    }
    this.hasDroppedBackups = false; // this run sees every deletion made so far
    const startedAt = Date.now();
    this.gcRun = this.store.collectGarbage().then((report) => {
      this.logger.info(`gc: ${report.deletedChunks} chunks, ${report.deletedPacks} packs deleted, ${report.rewrittenPacks} rewritten, `
        + `${report.freedBytes} bytes freed in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
      logRepairedCounts(this.logger, report);
      if (report.damagedPacks > 0) {
        this.logger.error(`gc: ${describeDamagedPacks(report)}`);
      }
      return report;
    }, (error: unknown) => {
      if (error instanceof GarbageCollectionError) logRepairedCounts(this.logger, error.report);
      // What this run was to collect is still garbage: the next occasion (a commit) runs again.
      this.hasDroppedBackups = true;
      throw error;
    }).finally(() => {
      this.gcRun = undefined;
    });
    // A collection that failed (a full disk, a lost lease) may have left an ended hold in place (failing
    // before its sweep) or not (failing after it, in compaction): the next is set for the first hold left,
    // but not sooner than a backoff, or a hold that could not end ran a failing collection every second.
    this.gcRun.then(() => {
      this.failureBackoffMs = 0;
      this.collectWhenHoldsEnd();
    }, () => {
      this.failureBackoffMs = Math.min(Math.max(this.failureBackoffMs * 2, MIN_FAILURE_BACKOFF_MILLISECONDS), MAX_FAILURE_BACKOFF_MILLISECONDS);
      this.collectWhenHoldsEnd();
    });
    return this.gcRun;
  }

  /** Fire-and-forget GC; a failure is logged, never lost silently. */
  scheduleGarbageCollection(): void {
    this.collectGarbage().catch((error) => this.logger.error(`gc failed: ${(error as Error).stack ?? String(error)}`));
  }

  async idle(): Promise<void> {
    while (this.gcRun || this.nextGcRun || this.deferredRuns.size > 0) {
      await Promise.all([...this.deferredRuns, (this.nextGcRun ?? this.gcRun)?.catch(() => undefined)]);
    }
  }

  /** The server stops: collections asked for already run to their end, no new one starts. */
  async stop(): Promise<void> {
    // First, and none set from here on: a timer firing while the stop waits would start a whole
    // collection, which the stop would then wait for. Collections already asked for still run.
    this.isStopping = true;
    this.clearHoldTimer();
    await this.idle();
    this.isStopped = true;
  }
}

/** Counts a sweep found wrong and repaired: damage to the catalog, an error for the operator, never a quiet fix. */
function logRepairedCounts(logger: Logger, report: GarbageReport): void {
  for (const line of describeRepairedCounts(report.repairedCounts)) logger.error(`gc: ${line} (run check: what damaged it may have damaged more)`);
}
