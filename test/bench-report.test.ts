// Proves the benchmark report's arithmetic: ratios against restic, PASS/MISS per target,
// and N/A (never a guess) when cpsbackup did not run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildRows, checkTargets, newBytesStored, renderMarkdown, renderTable } from '../bench/report';
import type { ToolResult } from '../bench/scenarios';

const mebibyte = 1024 * 1024;

function result(tool: string, walls: [number, number, number, number], repository: [number, number, number], peaks: Record<string, number>): ToolResult {
  const bytes = 100 * mebibyte;
  const scenarios = Object.fromEntries(['A', 'B', 'C', 'D'].map((name, index) => [name, { wallSeconds: walls[index], bytes, peakRssBytes: peaks, cpuSeconds: { main: walls[index] } }]));
  return { tool, version: '1', scenarios, repositoryBytes: { A: repository[0], B: repository[1], C: repository[2] }, restoreVerified: true };
}

test('targets pass and miss against restic', () => {
  const restic = result('restic', [10, 2, 3, 8], [60 * mebibyte, 60 * mebibyte, 70 * mebibyte], { restic: 80 * mebibyte });
  const borg = result('borg', [8, 1, 2, 6], [55 * mebibyte, 55 * mebibyte, 62 * mebibyte], { borg: 90 * mebibyte });
  const ours = result('cpsbackup', [5, 1.5, 2, 6], [58 * mebibyte, 58 * mebibyte, 66 * mebibyte], { client: 100 * mebibyte, server: 300 * mebibyte });
  const checks = Object.fromEntries(checkTargets([restic, borg, ours]).map((check) => [check.target, check.status]));
  assert.equal(checks['A throughput ≥ 1.5× restic'], 'PASS');
  assert.equal(checks['B wall ≤ 0.5× restic'], 'MISS');
  assert.equal(checks['C new bytes stored ≤ restic'], 'PASS');
  assert.equal(checks['C repo size ≤ restic'], 'PASS');
  assert.equal(checks['D restore throughput ≥ 1.5× restic'], 'MISS');
  assert.equal(checks['peak RSS client ≤ 256 MiB'], 'PASS');
  assert.equal(checks['peak RSS server ≤ 256 MiB'], 'MISS');
  assert.equal(newBytesStored(ours), 8 * mebibyte);

  const rows = buildRows([restic, borg, ours]);
  const throughput = rows.find((row) => row.metric === 'A MiB/s');
  assert.equal(throughput?.values.cpsbackup, 20);
  const table = renderTable(rows, ['restic', 'borg', 'cpsbackup']);
  assert.match(table, /A MiB\/s\s+10\.00\s+12\.50\s+20\.00\s+2\.00×\s+1\.60×/);
});

test('without cpsbackup every target is N/A and the report says it is missing', () => {
  const restic = result('restic', [10, 2, 3, 8], [1, 1, 2], { restic: 1 });
  const missing: ToolResult = { tool: 'cpsbackup', missing: 'not built', scenarios: {}, repositoryBytes: {} };
  assert.ok(checkTargets([restic, missing]).every((check) => check.status === 'N/A'));
  const markdown = renderMarkdown([restic, missing], { date: 'today', settings: {}, notes: [] });
  assert.match(markdown, /cpsbackup is missing: not built/);
});
