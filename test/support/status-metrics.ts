// Reading a running server's status port the way an operator's tools do: its address from the
// server's log, one series of /metrics as a number.
import assert from 'node:assert/strict';

/** The status port's base URL, from the line the server logs when it starts listening. */
export function statusUrlOf(log: string): string {
  const match = /cpsbackup-server status on (\S+)/.exec(log);
  assert.ok(match, log);
  return match[1].replace(/\/$/, '');
}

/** A series' value in Prometheus text; undefined when the series is absent. */
export function metricValue(metrics: string, series: string): number | undefined {
  const line = metrics.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}
