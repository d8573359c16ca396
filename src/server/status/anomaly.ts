// Flags a backup whose logical size or file count strays from the client's recent history.
// Pure: the median of the previous backups of the same kind (at most 10) against the backup itself.

export interface SizePoint {
  readonly number: number;
  readonly kind: number;
  readonly files: number;
  readonly logicalBytes: number;
}

export interface Anomaly {
  readonly isAnomalous: boolean;
  /** One sentence per figure that strayed, for the dashboard and the notification. */
  readonly reasons: readonly string[];
  readonly medianBytes: number;
  readonly medianFiles: number;
  /** How many earlier backups the median was taken over. */
  readonly basis: number;
}

export const ANOMALY_WINDOW = 10;
/** With fewer earlier backups the median says little; the second backup of a client is never flagged. */
export const ANOMALY_MIN_BASIS = 2;

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/**
 * `history` is the client's committed backups in number order; `backup` is compared with the
 * backups of the same kind before it, because a partial backup is small by design.
 */
export function anomalyOf(backup: SizePoint, history: readonly SizePoint[], share: number): Anomaly | undefined {
  const earlier = history.filter((point) => point.number < backup.number && point.kind === backup.kind).slice(-ANOMALY_WINDOW);
  return anomalyAgainst(backup, earlier, share);
}

/**
 * anomalyOf for every backup of `history` (in number order), in one pass: each kind keeps a window
 * of its last ANOMALY_WINDOW backups. Asking anomalyOf per backup filtered the whole history each
 * time, O(n²): 4.8 s of blocked event loop for /history over 20,000 backups of one client.
 */
export function anomaliesOf(history: readonly SizePoint[], share: number): (Anomaly | undefined)[] {
  const windows = new Map<number, SizePoint[]>();
  return history.map((backup) => {
    const window = windows.get(backup.kind) ?? [];
    windows.set(backup.kind, window);
    const anomaly = anomalyAgainst(backup, window, share);
    window.push(backup);
    if (window.length > ANOMALY_WINDOW) window.shift();
    return anomaly;
  });
}

/** `earlier`: at most ANOMALY_WINDOW backups of the same kind before `backup`, oldest first. */
function anomalyAgainst(backup: SizePoint, earlier: readonly SizePoint[], share: number): Anomaly | undefined {
  if (earlier.length < ANOMALY_MIN_BASIS) return undefined;
  const medianBytes = median(earlier.map((point) => point.logicalBytes));
  const medianFiles = median(earlier.map((point) => point.files));
  const reasons: string[] = [];
  const bytesChange = relativeChange(backup.logicalBytes, medianBytes);
  if (bytesChange > share) {
    reasons.push(`size ${backup.logicalBytes} bytes differs from the median ${medianBytes} of the last ${earlier.length} backups by ${percent(bytesChange)}`);
  }
  const filesChange = relativeChange(backup.files, medianFiles);
  if (filesChange > share) {
    reasons.push(`file count ${backup.files} differs from the median ${medianFiles} of the last ${earlier.length} backups by ${percent(filesChange)}`);
  }
  return { isAnomalous: reasons.length > 0, reasons, medianBytes, medianFiles, basis: earlier.length };
}

function relativeChange(value: number, reference: number): number {
  if (reference === 0) return value === 0 ? 0 : Infinity;
  return Math.abs(value - reference) / reference;
}

function percent(change: number): string {
  return Number.isFinite(change) ? `${Math.round(change * 100)}%` : 'more than 100%';
}
