// The terminal summary of GET /status for `cpsbackup-server status`: store figures, then one
// aligned line per client with its state, last backup, and what is running or went wrong.
import type { ClientStatus, StatusReport } from './status-report';
import type { ObjectStoreStatus } from './object-store-status';
import { shown } from '../../common/config/display';

/** A reason or warning quoted in a note: one line on the terminal, whatever the server's JSON holds. */
const NOTE_TEXT_LENGTH = 1024;

export function statusText(report: StatusReport): string {
  const store = report.store;
  const lines = [
    `cpsbackup-server ${report.version}, up ${formatDuration(report.uptimeSeconds)}`,
    ...(report.stopping ? [stoppingLine(report.stopping, Date.parse(report.generatedAt))] : []),
    `store: ${formatBytes(store.diskBytes)} on disk, ${formatBytes(store.logicalBytes)} in ${store.backups} backups, ` +
      `dedup ${store.dedupRatio.toFixed(2)}x, compression ${store.compressionRatio.toFixed(2)}x` +
      // Measured at most once per status_figures_max_age: say so when the figures are not from this request.
      (store.ageSeconds >= 1 ? ` (measured ${formatDuration(Math.round(store.ageSeconds))} ago)` : ''),
    ...(report.objectStore ? objectStoreLines(report.objectStore) : []),
    '',
  ];
  if (report.clients.length === 0) return `${[...lines, 'no clients'].join('\n')}\n`;
  const rows = report.clients.map(clientRow);
  const header = ['CLIENT', 'STATE', 'LAST BACKUP', 'AGE', 'FILES', 'SIZE', 'NEW', 'KEPT'];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row.cells[column].length)));
  const format = (cells: readonly string[]) => cells.map((cell, column) => (column >= 4 ? cell.padStart(widths[column]) : cell.padEnd(widths[column]))).join('  ').trimEnd();
  lines.push(format(header));
  for (const row of rows) {
    lines.push(format(row.cells));
    for (const note of row.notes) lines.push(`  ${note}`);
  }
  return `${lines.join('\n')}\n`;
}

function objectStoreLines(objectStore: ObjectStoreStatus): string[] {
  const used = Object.entries(objectStore.operations).filter(([, stats]) => stats.requests > 0);
  const requests = used.map(([operation, stats]) => {
    const average = stats.requests > 0 ? Math.round((stats.latencySecondsSum / stats.requests) * 1000) : 0;
    return `${operation} ${stats.requests}${stats.errors > 0 ? ` (${stats.errors} failed)` : ''} ~${average} ms`;
  });
  const snapshots = objectStore.snapshots;
  const snapshotText = snapshots === null ? 'no catalog snapshots'
    : `${snapshots.lastAt === null ? 'no catalog snapshot yet' : `catalog snapshot ${snapshots.lastGeneration} at ${snapshots.lastAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}`}`
      + `${snapshots.isPending ? ', changes waiting for the next' : ''}${snapshots.failed > 0 ? `, ${snapshots.failed} failed` : ''}`;
  return [
    `${objectStore.kind} ${objectStore.location ?? '(bucket hidden)'}: ${objectStore.objects} pack objects, ${formatBytes(objectStore.bytes)}; ${snapshotText}`,
    `requests since start: ${requests.length === 0 ? 'none' : requests.join(', ')}`,
    stagingLine(objectStore.staging),
    objectStore.cache === null ? 'read cache: off (s3_cache_size = 0)'
      : `read cache: ${formatBytes(objectStore.cache.bytes)} of ${formatBytes(objectStore.cache.limitBytes)}, `
        + `${objectStore.cache.hits} hits, ${objectStore.cache.misses} misses, ${objectStore.cache.evictions} evicted`
        + `${objectStore.cache.discarded > 0 ? `, ${objectStore.cache.discarded} damaged files discarded` : ''}`,
  ];
}

function stagingLine(staging: ObjectStoreStatus['staging']): string {
  const limit = staging.limitBytes === null ? 'unbounded' : `of ${formatBytes(staging.limitBytes)}`;
  return `staging folder: ${formatBytes(staging.bytes)} ${limit}, at most ${formatBytes(staging.maxBytes)} since start`
    + `${staging.waits > 0 ? `, backups waited ${staging.waits} times for uploads` : ''}`;
}

function clientRow(client: ClientStatus): { cells: string[]; notes: string[] } {
  const last = client.lastSuccess;
  const state = client.anomaly?.isAnomalous ? `${client.state} (anomaly)` : client.state;
  const cells = [
    client.name, state,
    last ? `#${last.id} ${last.finishedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}` : 'never',
    last ? formatDuration(last.ageSeconds) : '-',
    last ? String(last.files) : '-',
    last ? formatBytes(last.bytes) : '-',
    last ? formatBytes(last.newBytes) : '-',
    String(client.backupsKept),
  ];
  const notes: string[] = [];
  if (client.running) {
    notes.push(`running: ${client.running.files} files, ${formatBytes(client.running.bytes)} at ${formatBytes(client.running.rateBytesPerSecond)}/s for ${formatDuration(client.running.elapsedSeconds)}`);
  }
  if (client.isOverdue) notes.push(`overdue since ${client.overdueSince} (warn_after ${client.warnAfterSeconds} s)`);
  if (client.lastFailure) {
    const reason = client.lastFailure.reason === null ? '(the reason needs status_token or status_details = 1)' : shown(client.lastFailure.reason.split('\n')[0], NOTE_TEXT_LENGTH);
    notes.push(`last failure ${formatDuration(client.lastFailure.ageSeconds)} ago: ${reason}`);
  }
  if (client.lastSuccess && client.lastSuccess.warningCount > 0) {
    const first = client.lastSuccess.warnings[0];
    notes.push(`${client.lastSuccess.warningCount} warning(s) in #${client.lastSuccess.id}${first === undefined ? '' : `, the first: ${shown(first, NOTE_TEXT_LENGTH)}`}`);
  }
  if (client.anomaly?.isAnomalous) for (const reason of client.anomaly.reasons) notes.push(`anomaly: ${reason}`);
  return { cells, notes };
}

export function formatBytes(value: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let index = 0;
  while (value >= 1024 && index < units.length - 1) {
    value /= 1024;
    index++;
  }
  return index === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${units[index]}`;
}

export function formatDuration(seconds: number): string {
  if (seconds < 120) return `${Math.round(seconds)}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)}h`;
  return `${Math.round(seconds / 86400)}d`;
}

/** `stopping for 2m (SIGTERM): takes no new call, waits for 1 running call (stop_timeout)` */
function stoppingLine(stopping: NonNullable<StatusReport['stopping']>, now: number): string {
  const seconds = Math.max(0, Math.round((now - Date.parse(stopping.since)) / 1000));
  return `stopping for ${formatDuration(seconds)} (${shown(stopping.reason)}): takes no new call, ${stoppingStep(stopping)}`;
}

/** What a stopping server does now: waits for its calls, cuts them, or closes its store. */
function stoppingStep(stopping: { readonly runningCalls: number; readonly isCutting?: boolean }): string {
  const calls = `${stopping.runningCalls} running call${stopping.runningCalls === 1 ? '' : 's'}`;
  if (stopping.runningCalls === 0) return 'closing the store';
  // Absent in an older server's report (status-fetch reads those too).
  return stopping.isCutting === true ? `cutting ${calls}` : `waits for ${calls} (stop_timeout)`;
}
