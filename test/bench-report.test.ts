// Proves the benchmark report's arithmetic: ratios against restic, PASS/MISS per target,
// and N/A (never a guess) when cpsbackup did not run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildRows, checkTargets, newBytesStored, renderMarkdown, renderTable } from '../bench/report';
import type { ToolResult } from '../bench/scenarios';
import { readSettings } from '../bench/settings';

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
  // No server CPU and no counted run: those targets say so rather than guess.
  assert.equal(checks['A server CPU ≤ 6.15 s/GiB (⅓ of server-side chunking)'], 'N/A');
  assert.equal(checks['C wire bytes ≤ 1.3× new bytes stored'], 'N/A');
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

test('server CPU per GiB and wire bytes against new bytes stored', () => {
  const bytes = 512 * mebibyte;
  const step = (server: number, sent: number) => ({
    wallSeconds: 1, bytes, peakRssBytes: { client: mebibyte, server: mebibyte }, cpuSeconds: { client: 1, server },
    wireBytes: { sent, received: mebibyte },
  });
  const ours: ToolResult = { tool: 'cpsbackup', scenarios: { A: step(3, 0) }, repositoryBytes: {} };
  const counted: ToolResult = {
    tool: 'cpsbackup-wire', scenarios: { A: step(3, 0), C: step(1, 11 * mebibyte) },
    repositoryBytes: { A: 50 * mebibyte, B: 50 * mebibyte, C: 60 * mebibyte },
  };
  const checks = new Map(checkTargets([ours, counted]).map((check) => [check.target, check]));
  assert.equal(checks.get('A server CPU ≤ 6.15 s/GiB (⅓ of server-side chunking)')?.measured, '6.00 s/GiB');
  assert.equal(checks.get('A server CPU ≤ 6.15 s/GiB (⅓ of server-side chunking)')?.status, 'PASS');
  // 11 MiB sent + 1 MiB received for 10 MiB stored: 1.2×.
  assert.equal(checks.get('C wire bytes ≤ 1.3× new bytes stored')?.measured, '1.20× (12.00 MiB)');
  assert.equal(checks.get('C wire bytes ≤ 1.3× new bytes stored')?.status, 'PASS');
  const rows = buildRows([ours, counted]);
  assert.equal(rows.find((row) => row.metric === 'C wire sent MiB')?.values['cpsbackup-wire'], 11);

  const slower: ToolResult = { ...ours, scenarios: { A: step(4, 0) } };
  assert.equal(checkTargets([slower]).find((check) => check.target.startsWith('A server CPU'))?.status, 'MISS');
});

test('BENCH_STORE=s3: the bucket runs get their own ratio columns, against restic-s3 and against the local cpsbackup', () => {
  const restic = result('restic', [10, 2, 3, 8], [60 * mebibyte, 60 * mebibyte, 70 * mebibyte], { restic: 80 * mebibyte });
  const ours = result('cpsbackup', [5, 1.5, 2, 6], [58 * mebibyte, 58 * mebibyte, 66 * mebibyte], { client: 100 * mebibyte });
  const resticS3 = result('restic-s3', [12, 2, 4, 10], [60 * mebibyte, 60 * mebibyte, 70 * mebibyte], { restic: 80 * mebibyte });
  const oursS3 = result('cpsbackup-s3', [6, 2, 3, 12], [50 * mebibyte, 50 * mebibyte, 56 * mebibyte], { client: 100 * mebibyte });
  const tools = ['restic', 'cpsbackup', 'restic-s3', 'cpsbackup-s3'];
  const table = renderTable(buildRows([restic, ours, resticS3, oursS3]), tools);
  assert.match(table.split('\n')[0], /cpsbackup\/restic\s+cpsbackup\/borg\s+cpsbackup-s3\/restic-s3\s+cpsbackup-s3\/cpsbackup$/);
  // D wall: 12 s on the bucket against restic-s3's 10 and the local run's 6.
  assert.match(table, /D wall s\s+8\.00\s+6\.00\s+10\.00\s+12\.00\s+0\.75×\s+—\s+1\.20×\s+2\.00×/);
  // Without a bucket run the table keeps its usual columns.
  assert.doesNotMatch(renderTable(buildRows([restic, ours]), ['restic', 'cpsbackup']), /cpsbackup-s3/);
});

test('the -s3 tools need BENCH_STORE=s3, which runs them beside the local ones by default', () => {
  assert.throws(() => readSettings({ BENCH_TOOLS: 'restic-s3' }, '/project'), /BENCH_TOOLS: restic-s3 needs BENCH_STORE=s3/);
  assert.throws(() => readSettings({ BENCH_STORE: 'minio' }, '/project'), /BENCH_STORE: must be local or s3, got "minio"/);
  const settings = readSettings({ BENCH_STORE: 's3' }, '/project');
  assert.equal(settings.store, 's3');
  assert.deepEqual(settings.tools, ['restic', 'cpsbackup', 'restic-s3', 'cpsbackup-s3']);
  assert.deepEqual(readSettings({}, '/project').tools, ['restic', 'borg', 'cpsbackup', 'cpsbackup-wire']);
});

test('BENCH_RESTORE_DIR moves the restores; unset, they stay in the work folder', () => {
  assert.equal(readSettings({}, '/project').restoreParent, undefined);
  assert.equal(readSettings({ BENCH_RESTORE_DIR: '' }, '/project').restoreParent, undefined);
  assert.equal(readSettings({ BENCH_RESTORE_DIR: '/dev/shm/x/../y' }, '/project').restoreParent, '/dev/shm/y');
});
