// When to notify: every backup outcome (success, failure), an anomalous size after a success,
// and "did not run": a client past its warn_after, checked on a timer, once until it is fine again;
// and a client's usage above its soft_quota after a backup, once until it is below again.
import { errorMessage } from '../../common/errors';
import type { UploadOutcome } from '../activity';
import type { ServerContext } from '../server-context';
import { anomalyOf } from '../status/anomaly';
import { overdueSince } from '../status/client-state';
import { kindName } from '../status/backup-figures';
import { anomalyNotification, failureNotification, overdueNotification, quotaNotification, successNotification } from './notification';
import { effectiveQuotas, isOverSoftQuota } from '../quota/quota-rules';
import type { Notifier } from './notifier';
import { PerClientInterval } from '../per-client-interval';

const MIN_CHECK_MS = 250;
const MAX_CHECK_MS = 60_000;
/** A client failing over and over (or sending ReportFailure in a loop) notifies once per this; /status has the latest reason. */
export const FAILURE_NOTIFY_INTERVAL_MS = 10 * 60_000;

export class NotificationRules {
  /** Clients already notified as overdue; in memory, so a restarted server notifies them once more. */
  private readonly overdueNotified = new Set<string>();
  /** Clients notified as above soft_quota, with the quota they crossed (a changed quota is crossed anew); in memory, as above. */
  private readonly softQuotaNotified = new Map<string, number>();
  /** Failure notifications per client: in memory, cleared by a success, so a new run of failures notifies at once. */
  private readonly failuresNotified = new PerClientInterval(FAILURE_NOTIFY_INTERVAL_MS);
  private unsubscribe: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private isStopped = false;

  constructor(
    private readonly context: ServerContext,
    private readonly notifier: Notifier,
    private readonly serverStartedAt: number,
  ) {}

  start(): void {
    this.unsubscribe = this.context.activity.onOutcome((outcome) => {
      // Runs inside the upload handler: a notification problem must never fail a backup.
      try {
        this.onOutcome(outcome, Date.now());
      } catch (error) {
        this.context.logger.error(`notify: ${errorMessage(error)}`);
      }
    });
    this.scheduleCheck(0);
  }

  stop(): void {
    this.isStopped = true;
    this.unsubscribe?.();
    clearTimeout(this.timer);
  }

  onOutcome(outcome: UploadOutcome, now: number): void {
    const { clientName } = outcome;
    if (!outcome.isSuccess) {
      const heldBack = this.failuresNotified.admit(clientName, now);
      if (heldBack === undefined) return;
      const reason = outcome.reason ?? 'unknown';
      this.notifier.send(failureNotification(clientName, outcome.backupNumber,
        heldBack === 0 ? reason : `${reason} (and ${heldBack} earlier failures not notified)`, now));
      return;
    }
    this.failuresNotified.reset(clientName);
    const store = this.context.store;
    const backup = store.findBackup(clientName, outcome.backupNumber);
    if (backup === undefined) return;
    // Only a complete ends a lapse: overdue counts from the last complete, so a partial that cleared
    // the flag had the next check notify again, once per partial (every 15 min) instead of once.
    if (kindName(backup.kind) === 'complete') this.overdueNotified.delete(clientName);
    const share = this.context.config.anomalyShare;
    const anomaly = anomalyOf(backup, store.listBackups(clientName), share);
    this.notifier.send(successNotification(backup, anomaly, now));
    if (anomaly?.isAnomalous) this.notifier.send(anomalyNotification(backup, anomaly, share, now));
    this.checkSoftQuota(clientName, backup.number, now);
  }

  /** One notification per crossing of soft_quota, not one per backup while above it. */
  private checkSoftQuota(clientName: string, backupNumber: number, now: number): void {
    const quotas = effectiveQuotas(this.context.clients.current.byName(clientName), this.context.config.quotas);
    if (quotas.softQuotaBytes === undefined) {
      this.softQuotaNotified.delete(clientName);
      return;
    }
    const usage = this.context.store.clientUsage(clientName);
    if (!isOverSoftQuota(usage.bytes, quotas)) {
      this.softQuotaNotified.delete(clientName);
      return;
    }
    if (this.softQuotaNotified.get(clientName) === quotas.softQuotaBytes) return;
    this.softQuotaNotified.set(clientName, quotas.softQuotaBytes);
    // The split is the operator's (it depends on other clients' data); the quota compares usage alone.
    const { ownBytes, sharedBytes } = this.context.store.usageSharing(clientName, usage);
    this.notifier.send(quotaNotification(clientName, backupNumber, {
      usageBytes: usage.bytes, ownBytes, sharedBytes,
      softQuotaBytes: quotas.softQuotaBytes, hardQuotaBytes: quotas.hardQuotaBytes ?? null,
    }, now));
  }

  /** Notifies each newly overdue client; returns the shortest warn_after seen (for the next check). */
  checkOverdue(now: number): number | undefined {
    const registry = this.context.clients.current;
    const store = this.context.store;
    // A client whose record an edit broke is refused at every backup: with the server's warn_after
    // it still becomes overdue, instead of going quiet (only those that have backed up before).
    const refusedClients = registry.refused
      .filter((refused) => registry.byName(refused.name) === undefined && store.findBackup(refused.name, 0) !== undefined)
      .map((refused) => ({ name: refused.name, warnAfterSeconds: undefined }));
    let shortest: number | undefined;
    for (const record of [...registry.records.values(), ...refusedClients]) {
      const warnAfterSeconds = record.warnAfterSeconds ?? this.context.config.warnAfterSeconds;
      if (warnAfterSeconds === undefined) continue;
      shortest = Math.min(shortest ?? Infinity, warnAfterSeconds);
      // From the last complete backup: partials every few minutes must not hide a nightly complete that stopped.
      const last = store.findBackup(record.name, 0);
      const lastComplete = last === undefined || kindName(last.kind) === 'complete' ? last
        : store.latestCompleteBackup(record.name);
      const isOverdue = overdueSince({
        isRunning: false,
        lastSuccessAt: last === undefined ? undefined : last.finishedAt ?? last.startedAt,
        lastCompleteSuccessAt: lastComplete === undefined ? undefined : lastComplete.finishedAt ?? lastComplete.startedAt,
        lastFailureAt: undefined,
        warnAfterSeconds,
        serverStartedAt: this.serverStartedAt,
      }, now) !== undefined;
      if (!isOverdue) {
        this.overdueNotified.delete(record.name);
      } else if (!this.overdueNotified.has(record.name)) {
        this.overdueNotified.add(record.name);
        this.notifier.send(overdueNotification(record.name, lastComplete ?? last, warnAfterSeconds, now));
      }
    }
    return shortest;
  }

  /** Checks at a quarter of the shortest warn_after, so an overdue client is noticed within 25% of it. */
  private scheduleCheck(delayMs: number): void {
    if (this.isStopped) return;
    this.timer = setTimeout(() => {
      let shortest: number | undefined;
      try {
        shortest = this.checkOverdue(Date.now());
      } catch (error) {
        this.context.logger.error(`notify: overdue check failed: ${errorMessage(error)}`);
      }
      const next = shortest === undefined ? MAX_CHECK_MS : (shortest * 1000) / 4;
      this.scheduleCheck(Math.min(MAX_CHECK_MS, Math.max(MIN_CHECK_MS, next)));
    }, delayMs);
    this.timer.unref();
  }
}
