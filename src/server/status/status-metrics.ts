// GET /metrics: the /status figures as Prometheus gauges, labelled per client.
// One prom-client Registry per status server (never the global default), refilled at each scrape.
import { Gauge, Registry } from 'prom-client';
import type { StatusReport } from './status-report';
import type { ClientState } from './client-state';
import type { ObjectStoreStatus } from './object-store-status';

const STATES: readonly ClientState[] = ['ok', 'running', 'failed', 'overdue', 'incomplete', 'never'];

export class StatusMetrics {
  readonly registry = new Registry();
  private readonly gauge;

  constructor() {
    const registers = [this.registry];
    const make = <Label extends string>(name: string, help: string, labelNames: readonly Label[] = []) =>
      new Gauge<Label>({ name: `cpsbackup_${name}`, help, labelNames, registers });
    this.gauge = {
      info: make('info', 'Server version (value is always 1)', ['version']),
      uptime: make('uptime_seconds', 'Seconds since the server started'),
      diskBytes: make('store_disk_bytes', 'Space the store folder takes on disk (du)'),
      logicalBytes: make('store_logical_bytes', 'Sum of the logical sizes of all kept backups'),
      uniqueBytes: make('store_unique_bytes', 'Sum of the raw sizes of all stored chunks (after dedup)'),
      storedBytes: make('store_stored_bytes', 'Sum of the compressed sizes of all stored chunks'),
      dedupRatio: make('store_dedup_ratio', 'Logical bytes over unique chunk bytes'),
      compressionRatio: make('store_compression_ratio', 'Unique chunk bytes over stored (compressed) bytes'),
      backups: make('store_backups', 'Kept (committed) backups in the store'),
      chunks: make('store_chunks', 'Chunks in the store'),
      figuresAge: make('store_figures_age_seconds', 'How long ago the store figures were measured (at most once per status_figures_max_age)'),
      state: make('client_state', 'Client state: 1 for the current one', ['client', 'state']),
      backupsKept: make('client_backups_kept', 'Backups kept for the client', ['client']),
      lastSuccessTime: make('client_last_success_timestamp_seconds', 'End of the last successful backup', ['client']),
      lastSuccessAge: make('client_last_success_age_seconds', 'Age of the last successful backup', ['client']),
      lastSuccessId: make('client_last_success_backup_id', 'Number of the last successful backup', ['client']),
      lastFiles: make('client_last_success_files', 'Files in the last successful backup', ['client']),
      lastBytes: make('client_last_success_bytes', 'Logical size of the last successful backup', ['client']),
      lastNewBytes: make('client_last_success_new_bytes', 'Bytes of the last successful backup that its client did not hold before (new to it, whoever else stored them)', ['client']),
      lastDuration: make('client_last_success_duration_seconds', 'Duration of the last successful backup', ['client']),
      lastUnreadable: make('client_last_success_unreadable_files', 'Entries the last committed backup left out (could not be read): above 0 it is incomplete', ['client']),
      lastFailureTime: make('client_last_failure_timestamp_seconds', 'Time of the last failed backup since the server started', ['client']),
      overdue: make('client_overdue', '1 if the last successful backup is older than warn_after', ['client']),
      anomaly: make('client_anomaly', '1 if the last backup strays from the median of the previous ones', ['client']),
      running: make('client_running', '1 while a backup of the client runs', ['client']),
      runningFiles: make('client_running_files', 'Entries received so far by the running backup', ['client']),
      runningBytes: make('client_running_bytes', 'Bytes received so far by the running backup', ['client']),
      runningRate: make('client_running_rate_bytes_per_second', 'Recent receive rate of the running backup', ['client']),
      stopping: make('stopping', '1 once the server was asked to stop: it takes no new call and waits for the running ones (stop_timeout)'),
      checkTime: make('check_last_timestamp_seconds', 'Start of the last scheduled check (check_schedule)'),
      checkClean: make('check_last_clean', '1 if the last scheduled check found no damage and ran to its end'),
      checkDamagedChunks: make('check_last_damaged_chunks', 'Damaged chunks the last scheduled check found'),
      checkAffectedFiles: make('check_last_affected_files', 'Files (per backup) the damage found by the last scheduled check breaks'),
      s3Objects: make('s3_objects', 'Pack objects the catalog has in the bucket'),
      s3Bytes: make('s3_bytes', 'Bytes of the pack objects the catalog has in the bucket'),
      s3Requests: make('s3_requests', 'S3 requests since the server started (each attempt)', ['operation']),
      s3Errors: make('s3_request_errors', 'S3 requests that failed, transient or not', ['operation']),
      s3Retries: make('s3_request_retries', 'S3 requests repeated after a transient failure', ['operation']),
      s3TransferBytes: make('s3_transfer_bytes', 'Payload bytes sent (puts, parts) or received (gets)', ['operation']),
      s3LatencySum: make('s3_request_duration_seconds_sum', 'Total time of S3 requests', ['operation']),
      s3LatencyCount: make('s3_request_duration_seconds_count', 'S3 requests timed', ['operation']),
      s3LatencyBucket: make('s3_request_duration_seconds_bucket', 'S3 requests that took at most le seconds (cumulative)', ['operation', 'le']),
      stagingBytes: make('s3_staging_bytes', 'Bytes in the staging folder now (packs being filled or waiting for upload, catalog snapshots)'),
      stagingMaxBytes: make('s3_staging_max_bytes', 'The most bytes the staging folder held at once since the server started'),
      stagingLimitBytes: make('s3_staging_limit_bytes', 'The staging folder bound (s3_staging_max)'),
      cacheHits: make('s3_cache_hits', 'Pack range reads served from the local read cache since the server started'),
      cacheHitBytes: make('s3_cache_hit_bytes', 'Bytes served from the local read cache since the server started'),
      cacheMisses: make('s3_cache_misses', 'Pack range reads the local read cache could not serve (read from the bucket)'),
      cacheBytes: make('s3_cache_bytes', 'Bytes the local read cache files take now'),
      cacheLimitBytes: make('s3_cache_limit_bytes', 'The local read cache bound (s3_cache_size)'),
      cacheEvictions: make('s3_cache_evictions', 'Cache files removed to make room (least recently used first)'),
      cacheDiscarded: make('s3_cache_discarded', 'Cache files found damaged (digest, or records that do not open), removed and read again from the bucket'),
      stagingWaits: make('s3_staging_waits', 'Times a backup or compaction waited for uploads to free staging room since the server started'),
      snapshotTime: make('catalog_snapshot_last_timestamp_seconds', 'When the last catalog snapshot reached the bucket'),
      snapshotGeneration: make('catalog_snapshot_last_generation', 'Generation of the last catalog snapshot'),
      snapshotBytes: make('catalog_snapshot_last_bytes', 'Size of the last catalog snapshot (compressed, sealed)'),
      snapshotFailures: make('catalog_snapshot_failures', 'Catalog snapshots that failed since the server started'),
      snapshotPending: make('catalog_snapshot_pending', '1 while catalog changes wait for a snapshot (what a lost server would lose)'),
      leaseHeld: make('s3_lease_held', '1 while this server holds its bucket\'s lease and may write to it; 0: nothing is written (see /status objectStore.lease.problem)'),
    };
  }

  /** Replaces every value with the report's, so a client gone from the report leaves no stale series. */
  async render(report: StatusReport): Promise<string> {
    const g = this.gauge;
    for (const gauge of Object.values(g)) gauge.reset();
    g.info.set({ version: report.version }, 1);
    g.uptime.set(report.uptimeSeconds);
    g.diskBytes.set(report.store.diskBytes);
    g.logicalBytes.set(report.store.logicalBytes);
    g.uniqueBytes.set(report.store.uniqueBytes);
    g.storedBytes.set(report.store.storedBytes);
    g.dedupRatio.set(report.store.dedupRatio);
    g.compressionRatio.set(report.store.compressionRatio);
    g.backups.set(report.store.backups);
    g.chunks.set(report.store.chunks);
    g.figuresAge.set(report.store.ageSeconds);
    for (const client of report.clients) {
      const labels = { client: client.name };
      for (const state of STATES) g.state.set({ client: client.name, state }, client.state === state ? 1 : 0);
      g.backupsKept.set(labels, client.backupsKept);
      g.overdue.set(labels, client.isOverdue ? 1 : 0);
      g.anomaly.set(labels, client.anomaly?.isAnomalous ? 1 : 0);
      g.running.set(labels, client.running ? 1 : 0);
      if (client.lastSuccess) {
        g.lastSuccessTime.set(labels, Date.parse(client.lastSuccess.finishedAt) / 1000);
        g.lastSuccessAge.set(labels, client.lastSuccess.ageSeconds);
        g.lastSuccessId.set(labels, client.lastSuccess.id);
        g.lastFiles.set(labels, client.lastSuccess.files);
        g.lastBytes.set(labels, client.lastSuccess.bytes);
        g.lastNewBytes.set(labels, client.lastSuccess.newBytes);
        g.lastDuration.set(labels, client.lastSuccess.durationSeconds);
        // Absent in the figures of an older server's report (status-fetch reads those too).
        g.lastUnreadable.set(labels, client.lastSuccess.unreadableFiles ?? 0);
      }
      if (client.lastFailure) g.lastFailureTime.set(labels, Date.parse(client.lastFailure.at) / 1000);
      if (client.running) {
        g.runningFiles.set(labels, client.running.files);
        g.runningBytes.set(labels, client.running.bytes);
        g.runningRate.set(labels, client.running.rateBytesPerSecond);
      }
    }
    g.stopping.set(report.stopping ? 1 : 0);
    // No series before the first check: an alert on check_last_clean == 0 must not fire on a fresh start.
    if (report.lastCheck) {
      g.checkTime.set(Date.parse(report.lastCheck.at) / 1000);
      g.checkClean.set(report.lastCheck.isClean ? 1 : 0);
      g.checkDamagedChunks.set(report.lastCheck.damagedChunks);
      g.checkAffectedFiles.set(report.lastCheck.affectedFiles);
    }
    if (report.objectStore) this.renderObjectStore(report.objectStore);
    return this.registry.metrics();
  }

  private renderObjectStore(objectStore: ObjectStoreStatus): void {
    const g = this.gauge;
    g.s3Objects.set(objectStore.objects);
    g.s3Bytes.set(objectStore.bytes);
    for (const [operation, stats] of Object.entries(objectStore.operations)) {
      const labels = { operation };
      g.s3Requests.set(labels, stats.requests);
      g.s3Errors.set(labels, stats.errors);
      g.s3Retries.set(labels, stats.retries);
      g.s3TransferBytes.set(labels, stats.bytes);
      g.s3LatencySum.set(labels, stats.latencySecondsSum);
      g.s3LatencyCount.set(labels, stats.requests);
      objectStore.latencyBoundsSeconds.forEach((bound, index) => g.s3LatencyBucket.set({ operation, le: String(bound) }, stats.latencyBuckets[index]));
      g.s3LatencyBucket.set({ operation, le: '+Inf' }, stats.requests);
    }
    g.stagingBytes.set(objectStore.staging.bytes);
    g.stagingMaxBytes.set(objectStore.staging.maxBytes);
    if (objectStore.staging.limitBytes !== null) g.stagingLimitBytes.set(objectStore.staging.limitBytes);
    g.stagingWaits.set(objectStore.staging.waits);
    const cache = objectStore.cache;
    if (cache !== null) {
      g.cacheHits.set(cache.hits);
      g.cacheHitBytes.set(cache.hitBytes);
      g.cacheMisses.set(cache.misses);
      g.cacheBytes.set(cache.bytes);
      g.cacheLimitBytes.set(cache.limitBytes);
      g.cacheEvictions.set(cache.evictions);
      g.cacheDiscarded.set(cache.discarded);
    }
    if (objectStore.lease !== null) g.leaseHeld.set(objectStore.lease.isHeld ? 1 : 0);
    const snapshots = objectStore.snapshots;
    if (snapshots === null) return;
    if (snapshots.lastAt !== null) {
      g.snapshotTime.set(Date.parse(snapshots.lastAt) / 1000);
      g.snapshotGeneration.set(snapshots.lastGeneration);
      g.snapshotBytes.set(snapshots.lastBytes);
    }
    g.snapshotFailures.set(snapshots.failed);
    g.snapshotPending.set(snapshots.isPending ? 1 : 0);
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
