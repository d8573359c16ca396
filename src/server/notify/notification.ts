// The notification payload (documented in src/server/status/README.md) and its five builders:
// success, failure, overdue (did not run), anomaly, check (damage found) and quota (soft_quota crossed).
// Pure: data in, payload out.
import { hostname } from 'node:os';
import type { BackupRecord } from '../../chunkstore/store';
import type { CheckReport } from '../../chunkstore/check';
import type { Anomaly } from '../status/anomaly';
import { backupFigures, type BackupFigures } from '../status/backup-figures';
import { shown, shownLines } from '../../common/config/display';
import { escapeBytes } from '../../common/escape-bytes';
import { FAILURE_REASON_LENGTH } from '../received-text';

export type NotificationOutcome = 'success' | 'incomplete' | 'failure' | 'overdue' | 'anomaly' | 'check' | 'quota';

/** A client's usage against its quotas (the `quota` outcome). */
export interface QuotaFigures {
  /** What the quotas compare: the client's own copy of every chunk it holds. */
  readonly usageBytes: number;
  /** Of usageBytes, in chunks only this client holds (the operator's view: it depends on other clients). */
  readonly ownBytes: number;
  /** Of usageBytes, in chunks other clients hold too, each of them charged its own copy. */
  readonly sharedBytes: number;
  readonly softQuotaBytes: number;
  readonly hardQuotaBytes: number | null;
}

/** A check notification lists at most this many affected files in `warnings`; `reason` has the full report. */
const LISTED_AFFECTED_FILES = 100;
/**
 * A summary is one line of at most this many characters: it quotes what a client sent (its abort
 * reason), and a script gets it in its environment.
 */
export const SUMMARY_LENGTH = 1024;

/** One line whatever it quotes: a line feed in a client's text cannot start a second summary. */
function summaryOf(text: string): string {
  return shown(text, SUMMARY_LENGTH);
}

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
  readonly quota: QuotaFigures | null;
}

function base(outcome: NotificationOutcome, client: string, now: number): Omit<Notification, 'summary'> {
  return {
    version: 1, outcome, client, backupId: null, at: new Date(now).toISOString(), server: hostname(),
    warnings: [], backup: null, reason: null, lastSuccessAt: null, warnAfterSeconds: null, anomaly: null, quota: null,
  };
}

/** A committed backup: `success`, or `incomplete` when the client left files out (it exits 3 for it). */
export function successNotification(backup: BackupRecord, anomaly: Anomaly | undefined, now: number): Notification {
  const figures = backupFigures(backup, now);
  const warnings = [...figures.warnings, ...(anomaly?.isAnomalous ? anomaly.reasons : [])];
  const unreadable = backup.unreadableFiles;
  const ending = unreadable > 0
    ? `was kept INCOMPLETE: ${unreadable} entr${unreadable === 1 ? 'y' : 'ies'} could not be read and ${unreadable === 1 ? 'is' : 'are'} not in it;`
    : 'succeeded:';
  return {
    ...base(unreadable > 0 ? 'incomplete' : 'success', backup.clientName, now),
    backupId: backup.number,
    backup: figures,
    warnings,
    summary: summaryOf(`backup ${backup.number} of ${backup.clientName} ${ending} ${figures.files} files, ${formatBytes(figures.bytes)} ` +
      `(${formatBytes(figures.newBytes)} new) in ${figures.durationSeconds.toFixed(1)} s` +
      (warnings.length > 0 ? `, ${warnings.length} warning${warnings.length === 1 ? '' : 's'}` : '')),
  };
}

/** `reason` keeps its lines (a dump's stderr after its exit), each escaped: the summary has the first. */
export function failureNotification(client: string, backupNumber: number, reason: string, now: number): Notification {
  return {
    ...base('failure', client, now),
    backupId: backupNumber === 0 ? null : backupNumber,
    reason: shownLines(reason, FAILURE_REASON_LENGTH),
    summary: summaryOf(`backup ${backupNumber === 0 ? '' : `${backupNumber} `}of ${client} failed: ${reason.split('\n')[0]}`),
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
    summary: summaryOf(lastAt === undefined
      ? `${client} has no successful backup and is overdue (warn_after ${warnAfterSeconds} s)`
      : `${client} is overdue: last successful backup ${lastSuccess!.number} finished ${Math.round((now - lastAt) / 1000)} s ago (warn_after ${warnAfterSeconds} s)`),
  };
}

export function anomalyNotification(backup: BackupRecord, anomaly: Anomaly, share: number, now: number): Notification {
  return {
    ...base('anomaly', backup.clientName, now),
    backupId: backup.number,
    backup: backupFigures(backup, now),
    warnings: anomaly.reasons,
    anomaly: { ...anomaly, share },
    summary: summaryOf(`backup ${backup.number} of ${backup.clientName} is unusual: ${anomaly.reasons.join('; ')}`),
  };
}

/**
 * The scheduled check found damage. It concerns the store, not one client: `client` is '' and the
 * affected clients are named in the summary; `reason` is the check report as the CLI prints it.
 */
export function checkNotification(report: CheckReport, reportLines: readonly string[], now: number): Notification {
  const clients = [...new Set(report.affectedBackups.map((backup) => backup.clientName))].sort();
  // Escaped as the check report shows it: a path is the client's bytes, a line feed in one made two warnings.
  const files = report.affectedFiles.map((file) => `damaged file: client ${file.clientName} backup ${file.backupNumber} ${escapeBytes(file.path)}`);
  const warnings = files.length <= LISTED_AFFECTED_FILES
    ? files
    : [...files.slice(0, LISTED_AFFECTED_FILES), `... and ${files.length - LISTED_AFFECTED_FILES} more damaged files`];
  return {
    ...base('check', '', now),
    reason: reportLines.join('\n'),
    warnings,
    summary: summaryOf(`store check found damage: ${report.damagedChunks.length} damaged chunks, ${report.damagedContents.length} damaged contents, `
      + `${report.affectedFiles.length} affected files in ${report.affectedBackups.length} backups`
      + (clients.length > 0 ? ` of ${clients.join(', ')}` : '')
      + (report.problems.length > 0 ? `, ${report.problems.length} other problems` : '')),
  };
}

/** The client's usage went above its soft_quota with this backup (sent once per crossing). */
export function quotaNotification(client: string, backupNumber: number, quota: QuotaFigures, now: number): Notification {
  return {
    ...base('quota', client, now),
    backupId: backupNumber,
    quota,
    summary: summaryOf(`${client} uses ${formatBytes(quota.usageBytes)} of the store, above its soft_quota of ${formatBytes(quota.softQuotaBytes)}`
      + (quota.hardQuotaBytes === null ? '' : `; backups are refused from its hard_quota of ${formatBytes(quota.hardQuotaBytes)}`)),
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
