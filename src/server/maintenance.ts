// Retention after each commit and garbage collection, one run at a time.
// GC takes the store's exclusive lock, so it waits for running backups and restores to finish.
import type { ChunkStore } from '../chunkstore/store';
import type { GarbageReport } from '../chunkstore/gc';
import type { Logger } from '../common/logger';
import type { ServerConfig } from '../common/config/server-config';
import type { ClientRegistrySource } from './clients/live-client-registry';
import { errorMessage } from '../common/errors';
import { backupsToKeep } from './retention';
import { BackupKind } from '../proto/cpsbackup';

export class Maintenance {
  private gcRun: Promise<GarbageReport> | undefined;
  /** Set when a failed backup left written data unrecorded; the next backup collects it first. */
  private isGarbagePending = false;
  /** A run requested while one is in progress: it must see the deletions made meanwhile. */
  private nextGcRun: Promise<GarbageReport> | undefined;
  /** Backups were deleted (retention, an abandoned upload) since the last GC began: it has work. */
  private hasDroppedBackups = false;

  constructor(
    private readonly store: ChunkStore,
    private readonly config: ServerConfig,
    private readonly logger: Logger,
    private readonly clients: ClientRegistrySource,
  ) {}

  /** Deletes the client's backups that retention no longer keeps; returns their numbers. */
  applyRetention(clientName: string): number[] {
    const catalog = this.store.catalog;
    const clientId = catalog.findClientId(clientName);
    if (clientId === undefined) return [];
    const registry = this.clients.current;
    // A refused record's keep= is unknown: the server's defaults could delete what the client's own rules keep.
    if (registry.isRefused(clientName)) {
      this.logger.warn(`retention for ${clientName} skipped: its client record is refused (see the log of the last load or SIGHUP)`);
      return [];
    }
    const record = registry.byName(clientName);
    const policy = {
      keep: record?.keep ?? this.config.keep,
      keepDays: record?.keepDays ?? this.config.keepDays,
      keepDaysPartial: record?.keepDaysPartial ?? this.config.keepDaysPartial,
    };
    const backups = catalog.committedBackups(clientId);
    const kept = backupsToKeep(backups.map((backup) => ({
      number: backup.number, finishedAt: backup.finishedAt ?? backup.startedAt, isPartial: backup.kind === BackupKind.BACKUP_KIND_PARTIAL,
    })), policy, Date.now());
    const dropped = backups.filter((backup) => !kept.has(backup.number));
    for (const backup of dropped) catalog.deleteBackup(backup.id);
    if (dropped.length > 0) {
      this.hasDroppedBackups = true;
      this.logger.info(`retention for ${clientName}: deleted backups ${dropped.map((b) => b.number).join(', ')}`);
    }
    return dropped.map((backup) => backup.number);
  }

  /** An unfinished backup was deleted: its contents are garbage for the next GC. */
  noteDroppedBackup(): void {
    this.hasDroppedBackups = true;
  }

  /**
   * Retention after a commit, then GC if a backup was deleted since the last one began. GC after
   * every commit scanned every entry of every backup for nothing on most days.
   */
  afterCommit(clientName: string): void {
    this.applyRetention(clientName);
    if (this.hasDroppedBackups) this.scheduleGarbageCollection();
  }

  /** Runs GC now, or once more after the one in progress; concurrent callers share the run. */
  collectGarbage(): Promise<GarbageReport> {
    if (this.gcRun) {
      this.nextGcRun ??= this.gcRun.catch(() => undefined).then(() => {
        this.nextGcRun = undefined;
        return this.collectGarbage();
      });
      return this.nextGcRun;
    }
    this.hasDroppedBackups = false; // this run sees every deletion made so far
    this.gcRun = this.store.collectGarbage().then((report) => {
      this.logger.info(`gc: ${report.deletedChunks} chunks, ${report.deletedPacks} packs deleted, ${report.rewrittenPacks} rewritten, ${report.freedBytes} bytes freed`);
      return report;
    }).finally(() => {
      this.gcRun = undefined;
    });
    return this.gcRun;
  }

  noteGarbage(): void {
    this.isGarbagePending = true;
  }

  /** Collects garbage first if a failed backup left some; a failure is logged and retried next time. */
  async collectPendingGarbage(): Promise<void> {
    if (!this.isGarbagePending) return;
    try {
      await this.collectGarbage();
      this.isGarbagePending = false;
    } catch (error) {
      this.logger.error(`gc before backup failed: ${errorMessage(error)}`);
    }
  }

  /** Fire-and-forget GC after a commit; a failure is logged, never lost silently. */
  scheduleGarbageCollection(): void {
    this.collectGarbage().catch((error) => this.logger.error(`gc failed: ${(error as Error).stack ?? String(error)}`));
  }

  async idle(): Promise<void> {
    while (this.gcRun || this.nextGcRun) await (this.nextGcRun ?? this.gcRun)!.catch(() => undefined);
  }
}
