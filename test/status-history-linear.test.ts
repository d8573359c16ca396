// Regression (operations review, finding 8): GET /history asked anomalyOf for every backup, and each
// call filtered the client's whole history: O(n²), synchronous, so any local reader (or an open
// dashboard, every 5 s) blocked the server's event loop 0.4 s at 10,000 backups of one client and
// 4.8 s at 20,000. anomaliesOf, which /history now uses, reads each backup a bounded number of times.
// Counted, not timed: reads of the history array's elements through a Proxy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { anomaliesOf, anomalyOf, type SizePoint } from '../src/server/status/anomaly';

/** A deterministic history of complete and partial backups with some outliers. */
function historyOf(count: number): SizePoint[] {
  return Array.from({ length: count }, (_, index) => {
    const number = index + 1;
    const kind = number % 4 === 0 ? 0 : 1;
    const wobble = (number * 7919) % 13;
    return { number, kind, files: 100 + wobble + (number % 97 === 0 ? 500 : 0), logicalBytes: (kind === 0 ? 1_000_000 : 10_000) + wobble * 100 };
  });
}

/** The history behind a Proxy counting reads of its elements (what a scan over it costs). */
function counted(history: SizePoint[]): { readonly points: SizePoint[]; reads: () => number } {
  let reads = 0;
  const points = new Proxy(history, {
    get(target, property, receiver) {
      if (typeof property === 'string' && /^\d+$/.test(property)) reads++;
      return Reflect.get(target, property, receiver) as unknown;
    },
  });
  return { points, reads: () => reads };
}

test('anomaliesOf over 10,000 backups of one client reads each backup a bounded number of times', () => {
  const size = 10_000;
  const { points, reads } = counted(historyOf(size));
  const anomalies = anomaliesOf(points, 0.5);
  assert.equal(anomalies.length, size);
  assert.ok(reads() <= 2 * size, `${reads()} element reads for ${size} backups: not linear`);
  assert.ok(anomalies.some((anomaly) => anomaly?.isAnomalous), 'the outliers are flagged');
});

test('anomaliesOf gives, for each backup, what anomalyOf gives for it alone', () => {
  const history = historyOf(600);
  assert.deepEqual(anomaliesOf(history, 0.5), history.map((backup) => anomalyOf(backup, history, 0.5)));
});
