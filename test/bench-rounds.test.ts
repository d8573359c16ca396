// Proves how BENCH_ROUNDS combines rounds: medians for times, the worst round for peak RSS, a
// failure in any round kept, the tools' order rotated, and each round's verdicts shown beside the median.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkTargets, renderMarkdown } from '../bench/report';
import { combineRounds, renderRounds, roundOrder } from '../bench/rounds';
import type { ToolResult } from '../bench/scenarios';
import { readSettings } from '../bench/settings';

const mebibyte = 1024 * 1024;

function result(tool: string, walls: [number, number, number, number], peak: number, repositoryC = 70 * mebibyte): ToolResult {
  const bytes = 100 * mebibyte;
  const scenarios = Object.fromEntries(['A', 'B', 'C', 'D'].map((name, index) => [name, {
    wallSeconds: walls[index], bytes, peakRssBytes: { client: peak, server: peak / 2 }, cpuSeconds: { client: walls[index], server: walls[index] / 4 },
  }]));
  return { tool, version: '1', scenarios, repositoryBytes: { A: 60 * mebibyte, B: 60 * mebibyte, C: repositoryC }, restoreVerified: true };
}

test('three rounds: wall and CPU are medians, peak RSS the worst round, repository sizes medians', () => {
  const rounds = [
    [result('restic', [10, 2, 3, 8], 80 * mebibyte), result('cpsbackup', [5, 1.5, 2, 6], 100 * mebibyte, 66 * mebibyte)],
    [result('restic', [12, 2, 3, 8], 80 * mebibyte), result('cpsbackup', [9, 0.9, 2, 4], 300 * mebibyte, 64 * mebibyte)],
    [result('restic', [11, 2, 3, 8], 80 * mebibyte), result('cpsbackup', [6, 1.0, 2, 5], 120 * mebibyte, 68 * mebibyte)],
  ];
  const [restic, ours] = combineRounds(rounds);
  assert.equal(restic.scenarios.A?.wallSeconds, 11);
  assert.equal(ours.scenarios.A?.wallSeconds, 6);
  assert.equal(ours.scenarios.B?.wallSeconds, 1.0);
  assert.deepEqual(ours.scenarios.D?.cpuSeconds, { client: 5, server: 1.25 });
  assert.deepEqual(ours.scenarios.A?.peakRssBytes, { client: 300 * mebibyte, server: 150 * mebibyte });
  assert.equal(ours.repositoryBytes.C, 66 * mebibyte);
  assert.equal(ours.restoreVerified, true);
  assert.equal(ours.error, undefined);
  // A round that alone passes B (0.45×) does not make the median pass (1.0 / 2 = 0.5× passes; 1.5 / 2 does not).
  const checks = new Map(checkTargets([restic, ours]).map((check) => [check.target, check]));
  assert.equal(checks.get('B wall ≤ 0.5× restic')?.status, 'PASS');
  assert.equal(checks.get('peak RSS client ≤ 256 MiB')?.status, 'MISS');

  const lines = renderRounds(rounds, [restic, ours]);
  const markdown = lines.join('\n');
  assert.match(markdown, /^## 3 rounds$/m);
  // Each round's own verdict, then the median's.
  assert.match(markdown, /\| B wall ≤ 0\.5× restic \| MISS 0\.75× restic \| PASS 0\.45× restic \| PASS 0\.50× restic \| PASS 0\.50× restic \|/);
  // cpsbackup's A wall went from 5 to 9 s: +80 %.
  assert.match(markdown, /\| A \| 10\.00–12\.00 \(\+20 %\) \| 5\.00–9\.00 \(\+80 %\) \|/);
  assert.ok(renderMarkdown([restic, ours], { date: 'today', settings: {}, notes: [], rounds: lines }).includes('## 3 rounds'));
});

test('a round that failed or lacks a scenario is not hidden by the others', () => {
  const failed: ToolResult = { ...result('cpsbackup', [5, 1, 2, 6], mebibyte), error: 'restore differs', restoreVerified: false };
  delete (failed.scenarios as Record<string, unknown>).D;
  const rounds = [[result('cpsbackup', [5, 1, 2, 6], mebibyte)], [failed]];
  const [ours] = combineRounds(rounds);
  assert.equal(ours.error, 'round 2: restore differs');
  assert.equal(ours.restoreVerified, false);
  assert.equal(ours.scenarios.D, undefined);
  assert.equal(ours.scenarios.A?.wallSeconds, 5);
  // An even count: the mean of the middle two.
  const [even] = combineRounds([[result('x', [4, 1, 1, 1], 1)], [result('x', [6, 1, 1, 1], 1)]]);
  assert.equal(even.scenarios.A?.wallSeconds, 5);
});

test('one round renders nothing extra; the order rotates each round; BENCH_ROUNDS is a positive integer', () => {
  const single = [[result('restic', [1, 1, 1, 1], 1)]];
  assert.deepEqual(renderRounds(single, combineRounds(single)), []);
  assert.deepEqual(roundOrder(['restic', 'borg', 'cpsbackup'], 0), ['restic', 'borg', 'cpsbackup']);
  assert.deepEqual(roundOrder(['restic', 'borg', 'cpsbackup'], 1), ['borg', 'cpsbackup', 'restic']);
  assert.deepEqual(roundOrder(['restic', 'borg', 'cpsbackup'], 5), ['cpsbackup', 'restic', 'borg']);
  assert.equal(readSettings({}, '/project').rounds, 1);
  assert.equal(readSettings({ BENCH_ROUNDS: '3' }, '/project').rounds, 3);
  assert.throws(() => readSettings({ BENCH_ROUNDS: '0' }, '/project'), /BENCH_ROUNDS: must be a positive integer, got "0"/);
  assert.throws(() => readSettings({ BENCH_ROUNDS: '2.5' }, '/project'), /BENCH_ROUNDS: must be a positive integer, got "2.5"/);
});
