// Proves the status port's pure rules: a client's state, when it becomes overdue, the anomaly
// test against the median of earlier backups of the same kind, and the terminal summary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { anomalyOf, median, type SizePoint } from '../src/server/status/anomaly';
import { clientStateOf, overdueSince, type ClientFacts } from '../src/server/status/client-state';
import { statusText } from '../src/server/status/status-text';
import type { StatusReport } from '../src/server/status/status-report';

const hour = 3600_000;
const facts = (overrides: Partial<ClientFacts>): ClientFacts => ({
  isRunning: false, lastSuccessAt: undefined, lastFailureAt: undefined, warnAfterSeconds: undefined, serverStartedAt: 0, ...overrides,
});

test('client state: running wins, then a failure newer than the last success, then overdue', () => {
  const now = 100 * hour;
  assert.equal(clientStateOf(facts({}), now), 'never');
  assert.equal(clientStateOf(facts({ lastSuccessAt: now - hour }), now), 'ok');
  assert.equal(clientStateOf(facts({ lastSuccessAt: now - hour, isRunning: true, lastFailureAt: now }), now), 'running');
  assert.equal(clientStateOf(facts({ lastSuccessAt: now - hour, lastFailureAt: now - 60_000 }), now), 'failed');
  assert.equal(clientStateOf(facts({ lastSuccessAt: now - 60_000, lastFailureAt: now - hour }), now), 'ok');
  assert.equal(clientStateOf(facts({ lastSuccessAt: now - 27 * hour, warnAfterSeconds: 26 * 3600 }), now), 'overdue');
  assert.equal(clientStateOf(facts({ lastSuccessAt: now - 25 * hour, warnAfterSeconds: 26 * 3600 }), now), 'ok');
  // Never backed up: measured from the server's start, not from the epoch.
  assert.equal(clientStateOf(facts({ serverStartedAt: now - hour, warnAfterSeconds: 2 * 3600 }), now), 'never');
  assert.equal(clientStateOf(facts({ serverStartedAt: now - 3 * hour, warnAfterSeconds: 2 * 3600 }), now), 'overdue');
});

test('overdue: the moment is the last success plus warn_after; none without warn_after', () => {
  assert.equal(overdueSince(facts({ lastSuccessAt: 1000 }), 10 * hour), undefined);
  assert.equal(overdueSince(facts({ lastSuccessAt: 1000, warnAfterSeconds: 2 }), 3001), 3000);
  assert.equal(overdueSince(facts({ lastSuccessAt: 1000, warnAfterSeconds: 2 }), 3000), undefined);
});

test('anomaly: median of up to 10 earlier backups of the same kind, both directions, both figures', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  const point = (number: number, logicalBytes: number, files = 10, kind = 0): SizePoint => ({ number, kind, files, logicalBytes });
  const history = [point(1, 1000), point(2, 1100), point(3, 900), point(4, 1000)];
  assert.equal(anomalyOf(history[1], history, 0.5), undefined, 'one earlier backup is too few');
  const normal = anomalyOf(point(5, 1400), [...history, point(5, 1400)], 0.5)!;
  assert.equal(normal.isAnomalous, false);
  assert.equal(normal.medianBytes, 1000);
  assert.equal(normal.basis, 4);
  const bigger = anomalyOf(point(5, 1600), history, 0.5)!;
  assert.equal(bigger.isAnomalous, true);
  assert.match(bigger.reasons[0], /size 1600 bytes differs from the median 1000 of the last 4 backups by 60%/);
  assert.equal(anomalyOf(point(5, 400), history, 0.5)!.isAnomalous, true, 'a shrinking backup is as suspicious');
  const fewerFiles = anomalyOf(point(5, 1000, 2), history, 0.5)!;
  assert.deepEqual([fewerFiles.isAnomalous, fewerFiles.reasons.length], [true, 1]);
  assert.match(fewerFiles.reasons[0], /file count 2 differs from the median 10/);
  // A small partial backup is compared with partial ones only.
  const withPartials = [...history, point(5, 50, 1, 1), point(6, 60, 1, 1), point(7, 55, 1, 1)];
  assert.equal(anomalyOf(point(7, 55, 1, 1), withPartials, 0.5)!.isAnomalous, false);
  assert.equal(anomalyOf(point(8, 1000), withPartials, 0.5)!.isAnomalous, false);
  // Only the last 10 count: an old huge backup does not move the median.
  const long = [point(1, 1e9), ...Array.from({ length: 10 }, (_, index) => point(index + 2, 1000))];
  assert.equal(anomalyOf(point(12, 1000), long, 0.5)!.basis, 10);
  assert.equal(anomalyOf(point(12, 1000), long, 0.5)!.isAnomalous, false);
  assert.equal(anomalyOf(point(3, 1), [point(1, 0), point(2, 0)], 0.5)!.isAnomalous, true, 'something after nothing');
});

test('status text: one aligned row per client and notes for running, overdue, failure, anomaly', () => {
  const report: StatusReport = {
    version: '0.1.0', generatedAt: '2026-01-01T00:00:00.000Z', startedAt: '2026-01-01T00:00:00.000Z', uptimeSeconds: 7200,
    store: { backups: 3, logicalBytes: 3 * 1048576, uniqueBytes: 1048576, storedBytes: 524288, chunks: 4, packs: 1, dedupRatio: 3, compressionRatio: 2, diskBytes: 600000,
      measuredAt: '2026-01-01T01:59:48.000Z', ageSeconds: 12 },
    clients: [
      {
        name: 'node1', state: 'running', isOverdue: false, overdueSince: null, warnAfterSeconds: null,
        lastSuccess: { id: 3, kind: 'complete', startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:00:05.000Z', ageSeconds: 60,
          durationSeconds: 5, files: 12, bytes: 1048576, newBytes: 1024, storedBytes: 512, warnings: [], warningCount: 0 },
        lastFailure: { id: 2, at: '2026-01-01T00:00:00.000Z', ageSeconds: 300, reason: 'client aborted the backup: dump source db: exited with code 3' },
        running: { id: 4, startedAt: '2026-01-01T00:01:00.000Z', elapsedSeconds: 4, files: 2, bytes: 2097152, newBytes: 0, rateBytesPerSecond: 524288 },
        backupsKept: 3,
        anomaly: { backupId: 3, isAnomalous: true, reasons: ['size 1048576 bytes differs from the median 10 of the last 2 backups by more than 100%'], medianBytes: 10, medianFiles: 12, basis: 2 },
      },
      {
        name: 'web', state: 'overdue', isOverdue: true, overdueSince: '2026-01-01T00:00:02.000Z', warnAfterSeconds: 2,
        lastSuccess: null, lastFailure: null, running: null, backupsKept: 0, anomaly: null,
      },
    ],
  };
  const text = statusText(report);
  assert.match(text, /^cpsbackup-server 0\.1\.0, up 2\.0h\n/);
  assert.match(text, /store: 585\.9 KiB on disk, 3\.0 MiB in 3 backups, dedup 3\.00x, compression 2\.00x \(measured 12s ago\)/);
  assert.match(text, /^CLIENT +STATE +LAST BACKUP +AGE +FILES +SIZE +NEW +KEPT$/m);
  assert.match(text, /^node1 +running \(anomaly\) +#3 2026-01-01 00:00:05Z +60s +12 +1\.0 MiB +1\.0 KiB +3$/m);
  assert.match(text, /^ {2}running: 2 files, 2\.0 MiB at 512\.0 KiB\/s for 4s$/m);
  assert.match(text, /^ {2}last failure 5m ago: client aborted the backup: dump source db: exited with code 3$/m);
  assert.match(text, /^ {2}anomaly: size 1048576 bytes/m);
  assert.match(text, /^web +overdue +never +- +- +- +- +0$/m);
  assert.match(text, /^ {2}overdue since 2026-01-01T00:00:02\.000Z \(warn_after 2 s\)$/m);
});

test('status text of a stopping server: what it does now, waiting for its calls, cutting them, or closing the store', () => {
  const base: StatusReport = {
    version: '0.1.0', generatedAt: '2026-01-01T00:02:00.000Z', startedAt: '2026-01-01T00:00:00.000Z', uptimeSeconds: 120,
    store: { backups: 0, logicalBytes: 0, uniqueBytes: 0, storedBytes: 0, chunks: 0, packs: 0, dedupRatio: 1, compressionRatio: 1, diskBytes: 0,
      measuredAt: '2026-01-01T00:02:00.000Z', ageSeconds: 0 },
    clients: [],
  };
  const line = (stopping: StatusReport['stopping']): string | undefined => statusText({ ...base, stopping }).split('\n').find((text) => text.startsWith('stopping'));
  const since = '2026-01-01T00:01:30.000Z';
  assert.equal(line(null), undefined);
  assert.equal(line({ since, reason: 'SIGTERM', runningCalls: 2, isCutting: false }), 'stopping for 30s (SIGTERM): takes no new call, waits for 2 running calls (stop_timeout)');
  assert.equal(line({ since, reason: 'SIGTERM', runningCalls: 1, isCutting: true }), 'stopping for 30s (SIGTERM): takes no new call, cutting 1 running call');
  assert.equal(line({ since, reason: 'SIGINT', runningCalls: 0, isCutting: false }), 'stopping for 30s (SIGINT): takes no new call, closing the store');
});
