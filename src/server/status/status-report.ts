// Builds what GET /status and GET /history return: store figures, and per client its last
// success and failure, running upload, backups kept, state and anomaly. Read-only.
import type { BackupPoint } from '../../chunkstore/store';
import type { ClientRecord } from '../../common/config/client-record';
import type { ServerContext } from '../server-context';
import type { StoppingState } from '../running-calls';
import type { LastCheck } from '../check-result';
import { backupFigures, kindName, type BackupFigures } from './backup-figures';
import { anomaliesOf, anomalyOf, type Anomaly } from './anomaly';
import { CatalogFigures, type StoreFigures } from './catalog-figures';
import { clientStateOf, overdueSince, type ClientState } from './client-state';
import type { RateTracker } from './rate-tracker';
import { diskUsage } from './store-usage';
import { CachedMeasurement } from './cached-measurement';
import { shownLines } from '../../common/config/display';
import { FAILURE_REASON_LENGTH } from '../received-text';
import { objectStoreStatus, type ObjectStoreStatus } from './object-store-status';

export interface ClientStatus {
  readonly name: string;
  readonly state: ClientState;
  readonly isOverdue: boolean;
  readonly overdueSince: string | null;
  readonly warnAfterSeconds: number | null;
  readonly lastSuccess: BackupFigures | null;
  /** reason is null without details: a failure's message can name files on the client or the server. */
  readonly lastFailure: { readonly id: number | null; readonly at: string; readonly ageSeconds: number; readonly reason: string | null } | null;
  readonly running: {
    readonly id: number | null;
    readonly startedAt: string;
    readonly elapsedSeconds: number;
    readonly files: number;
    readonly bytes: number;
    readonly newBytes: number;
    readonly rateBytesPerSecond: number;
  } | null;
  readonly backupsKept: number;
  /** The last backup against the median of the ones before it; null until there are enough. */
  readonly anomaly: (Anomaly & { readonly backupId: number }) | null;
}

export interface StatusReport {
  readonly version: string;
  readonly generatedAt: string;
  readonly startedAt: string;
  readonly uptimeSeconds: number;
  /**
   * Measured at most once per status_figures_max_age (a walk of the whole store and sums over the catalog),
   * shared by the requests meanwhile: measuredAt is when, ageSeconds how long before generatedAt.
   */
  readonly store: StoreFigures & { readonly diskBytes: number; readonly measuredAt: string; readonly ageSeconds: number };
  readonly clients: readonly ClientStatus[];
  /** The latest scheduled check (check_schedule) since the server started; null before the first. Always set by StatusSource. */
  readonly lastCheck?: LastCheck | null;
  /** The S3 bucket: objects, bytes, requests per operation, catalog snapshots; null for a local store. Always set by StatusSource. */
  readonly objectStore?: ObjectStoreStatus | null;
  /** True when paths and messages were left out (no status token, status_details = 0): counts, states and sizes only. */
  readonly detailsHidden?: boolean;
  /**
   * Set once the server was asked to stop (SIGTERM, SIGINT): it takes no new call and waits up to stop_timeout
   * for runningCalls to end, then cuts those left (isCutting); null while it runs. Always set by StatusSource.
   */
  readonly stopping?: { readonly since: string; readonly reason: string; readonly runningCalls: number; readonly isCutting: boolean } | null;
}

export interface HistoryPoint {
  readonly id: number;
  readonly kind: 'complete' | 'partial';
  readonly finishedAt: string;
  readonly files: number;
  readonly bytes: number;
  readonly newBytes: number;
  readonly storedBytes: number;
  readonly isAnomalous: boolean;
}

export interface HistoryReport {
  readonly generatedAt: string;
  readonly clients: readonly { readonly name: string; readonly backups: readonly HistoryPoint[] }[];
}

export interface StatusSourceOptions {
  readonly startedAt: number;
  readonly version: string;
  readonly rates: RateTracker;
  readonly lastCheck?: () => LastCheck | undefined;
  readonly stopping?: () => StoppingState | undefined;
}

/** The store-wide figures, measured together so the ratios between them hold. */
interface StoreMeasurement {
  readonly diskBytes: number;
  readonly catalog: ReturnType<ServerContext['store']['figures']>;
}

export class StatusSource {
  private readonly figures: CatalogFigures;
  /** Exposed for tests: how many times the store was walked. */
  readonly storeMeasurement: CachedMeasurement<StoreMeasurement>;

  constructor(private readonly context: ServerContext, private readonly options: StatusSourceOptions) {
    this.figures = new CatalogFigures(context.store);
    this.storeMeasurement = new CachedMeasurement(async () => ({
      diskBytes: await diskUsage(context.config.directory),
      catalog: context.store.figures(),
    }), context.config.statusFiguresMaxAgeSeconds * 1000);
  }

  async report(): Promise<StatusReport> {
    const { value: measured, measuredAt } = await this.storeMeasurement.current();
    // After the wait: a report made by a request that waited for the walk is not older than the walk.
    const now = Date.now();
    const records = this.clientRecords();
    const backupsByClient = this.committedByClient();
    const clients = this.clientNames(records, backupsByClient)
      .map((name) => this.clientStatus(name, records.get(name), backupsByClient.get(name) ?? [], now));
    return {
      version: this.options.version,
      generatedAt: new Date(now).toISOString(),
      startedAt: new Date(this.options.startedAt).toISOString(),
      uptimeSeconds: Math.round((now - this.options.startedAt) / 1000),
      store: {
        ...this.figures.storeFigures(measured.catalog), diskBytes: measured.diskBytes,
        measuredAt: new Date(measuredAt).toISOString(), ageSeconds: Math.max(0, now - measuredAt) / 1000,
      },
      clients,
      lastCheck: this.options.lastCheck?.() ?? null,
      objectStore: objectStoreStatus(this.context.store, measured.catalog),
      stopping: stoppingStatus(this.options.stopping?.()),
    };
  }

  history(now = Date.now()): HistoryReport {
    const share = this.context.config.anomalyShare;
    const clients = [...this.committedByClient()].map(([name, backups]) => {
      const anomalies = anomaliesOf(backups, share);
      return { name, backups: backups.map((backup, index) => ({
        id: backup.number,
        kind: kindName(backup.kind),
        finishedAt: new Date(backup.finishedAt ?? backup.startedAt).toISOString(),
        files: backup.files,
        bytes: backup.logicalBytes,
        newBytes: backup.newBytes,
        storedBytes: backup.storedBytes,
        isAnomalous: anomalies[index]?.isAnomalous ?? false,
      })) };
    });
    return { generatedAt: new Date(now).toISOString(), clients };
  }

  /** The accepted records; a refused one's client still appears when it has backups or runs. */
  private clientRecords(): ReadonlyMap<string, ClientRecord> {
    return this.context.clients.current.records;
  }

  /** Without labels: only the newest backup's are shown (its warnings), read apart in clientStatus. */
  private committedByClient(): Map<string, BackupPoint[]> {
    const byClient = new Map<string, BackupPoint[]>();
    for (const backup of this.context.store.allBackupPoints()) {
      const list = byClient.get(backup.clientName) ?? [];
      list.push(backup);
      byClient.set(backup.clientName, list);
    }
    return byClient;
  }

  private clientNames(records: ReadonlyMap<string, ClientRecord>, backupsByClient: Map<string, BackupPoint[]>): string[] {
    const names = new Set([...records.keys(), ...backupsByClient.keys(), ...this.context.activity.runningUploads().map((upload) => upload.clientName)]);
    return [...names].sort();
  }

  private clientStatus(name: string, record: ClientRecord | undefined, backups: BackupPoint[], now: number): ClientStatus {
    const activity = this.context.activity;
    const last = backups.at(-1);
    // Deleted since the list was read (retention meanwhile): shown as the list had it, without warnings.
    const lastRecord = last === undefined ? undefined : this.context.store.findBackup(name, last.number) ?? { ...last, labels: {} };
    const failure = activity.failureOf(name);
    const upload = activity.progress(name);
    const warnAfterSeconds = record?.warnAfterSeconds ?? this.context.config.warnAfterSeconds;
    const lastComplete = backups.filter((backup) => kindName(backup.kind) === 'complete').at(-1);
    const facts = {
      isRunning: upload !== undefined,
      lastSuccessAt: last === undefined ? undefined : last.finishedAt ?? last.startedAt,
      lastCompleteSuccessAt: lastComplete === undefined ? undefined : lastComplete.finishedAt ?? lastComplete.startedAt,
      lastFailureAt: failure?.at,
      lastFailureKind: failure?.kind,
      isLastIncomplete: (last?.unreadableFiles ?? 0) > 0,
      warnAfterSeconds,
      serverStartedAt: this.options.startedAt,
    };
    const overdueAt = overdueSince(facts, now);
    const anomaly = last === undefined ? undefined : anomalyOf(last, backups, this.context.config.anomalyShare);
    return {
      name,
      state: clientStateOf(facts, now),
      isOverdue: overdueAt !== undefined,
      overdueSince: overdueAt === undefined ? null : new Date(overdueAt).toISOString(),
      warnAfterSeconds: warnAfterSeconds ?? null,
      lastSuccess: lastRecord === undefined ? null : backupFigures(lastRecord, now),
      lastFailure: failure === undefined ? null : {
        id: failure.backupNumber === 0 ? null : failure.backupNumber,
        at: new Date(failure.at).toISOString(),
        ageSeconds: Math.round((now - failure.at) / 1000),
        // Lines escaped whatever made the reason: it quotes a client's text, and the dashboard and status CLI show it.
        reason: shownLines(failure.reason ?? 'unknown', FAILURE_REASON_LENGTH),
      },
      running: upload === undefined ? null : {
        id: upload.backupNumber === 0 ? null : upload.backupNumber,
        startedAt: new Date(upload.startedAt).toISOString(),
        elapsedSeconds: Math.round((now - upload.startedAt) / 1000),
        files: upload.files,
        bytes: upload.bytes,
        newBytes: upload.newBytes,
        rateBytesPerSecond: Math.round(this.options.rates.rateOf(name, now)),
      },
      backupsKept: backups.length,
      anomaly: anomaly === undefined || last === undefined ? null : { ...anomaly, backupId: last.number },
    };
  }
}


function stoppingStatus(state: StoppingState | undefined): StatusReport['stopping'] {
  return state === undefined ? null
    : { since: new Date(state.since).toISOString(), reason: state.reason, runningCalls: state.runningCalls, isCutting: state.isCutting };
}
