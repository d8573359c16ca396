// The notification payload (documented in src/server/status/README.md) and its four builders:
// success, failure, overdue (did not run) and anomaly. Pure: data in, payload out.
import { hostname } from 'node:os';
import type { BackupRecord } from '../../chunkstore/catalog/records';
import type { Anomaly } from '../status/anomaly';
import { backupFigures, type BackupFigures } from '../status/status-report';

export type NotificationOutcome = 'success' | 'failure' | 'overdue' | 'anomaly';

export interface Notification {
  /** Payload format version; a change that removes or renames a field bumps it. */
  readonly version: 1;
  readonly outcome: NotificationOutcome;
  readonly client: string;
  readonly backupId: number | null;
  readonly at: string;
  readonly server: string;
  /** One line for a human: what happened, to whom, with the main figures. */
  readonly summary: string;
  readonly warnings: readonly string[];
  readonly backup: BackupFigures | null;
  readonly reason: string | null;
  readonly lastSuccessAt: string | null;
  readonly warnAfterSeconds: number | null;
  readonly anomaly: (Anomaly & { readonly share: number }) | null;
}

function base(outcome: NotificationOutcome, client: string, now: number): Omit<Notification, 'summary'> {
  return {
    version: 1, outcome, client, backupId: null, at: new Date(now).toISOString(), server: hostname(),
    warnings: [], backup: null, reason: null, lastSuccessAt: null, warnAfterSeconds: null, anomaly: null,
  };
}

export function successNotification(backup: BackupRecord, anomaly: Anomaly | undefined, now: number): Notification {
  const figures = backupFigures(backup, now);
  const warnings = [...figures.warnings, ...(anomaly?.isAnomalous ? anomaly.reasons : [])];
  return {
    ...base('success', backup.clientName, now),
    backupId: backup.number,
    backup: figures,
    warnings,
    summary: `backup ${backup.number} of ${backup.clientName} succeeded: ${figures.files} files, ${formatBytes(figures.bytes)} ` +
      `(${formatBytes(figures.newBytes)} new) in ${figures.durationSeconds.toFixed(1)} s` +
      (warnings.length > 0 ? `, ${warnings.length} warning${warnings.length === 1 ? '' : 's'}` : ''),
  };
}

export function failureNotification(client: string, backupNumber: number, reason: string, now: number): Notification {
  return {
    ...base('failure', client, now),
    backupId: backupNumber === 0 ? null : backupNumber,
    reason,
    summary: `backup ${backupNumber === 0 ? '' : `${backupNumber} `}of ${client} failed: ${reason.split('\n')[0]}`,
  };
}

export function overdueNotification(client: string, lastSuccess: BackupRecord | undefined, warnAfterSeconds: number, now: number): Notification {
  const lastAt = lastSuccess === undefined ? undefined : lastSuccess.finishedAt ?? lastSuccess.startedAt;
  return {
    ...base('overdue', client, now),
    backupId: lastSuccess?.number ?? null,
    backup: lastSuccess === undefined ? null : backupFigures(lastSuccess, now),
    lastSuccessAt: lastAt === undefined ? null : new Date(lastAt).toISOString(),
    warnAfterSeconds,
    summary: lastAt === undefined
      ? `${client} has no successful backup and is overdue (warn_after ${warnAfterSeconds} s)`
      : `${client} is overdue: last successful backup ${lastSuccess!.number} finished ${Math.round((now - lastAt) / 1000)} s ago (warn_after ${warnAfterSeconds} s)`,
  };
}

export function anomalyNotification(backup: BackupRecord, anomaly: Anomaly, share: number, now: number): Notification {
  return {
    ...base('anomaly', backup.clientName, now),
    backupId: backup.number,
    backup: backupFigures(backup, now),
    warnings: anomaly.reasons,
    anomaly: { ...anomaly, share },
    summary: `backup ${backup.number} of ${backup.clientName} is unusual: ${anomaly.reasons.join('; ')}`,
  };
}

function formatBytes(value: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let index = 0;
  while (value >= 1024 && index < units.length - 1) {
    value /= 1024;
    index++;
  }
  return `${index === 0 ? value : value.toFixed(1)} ${units[index]}`;
}
