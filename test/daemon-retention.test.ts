// Age retention by kind (issue 5): complete backups follow keep/keep_days, partial ones are dropped
// after keep_days_partial days or as soon as the complete backup they stand on is gone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backupsToKeep, retentionDecisions, type RetentionCandidate } from '../src/server/retention/retention-decisions';

const DAY = 24 * 3600 * 1000;
const now = 100 * DAY;

/** `C` complete, `p` partial, each with its age in days: [['C', 10], ['p', 9.5], ...] numbered 1, 2, ... */
function history(backups: readonly (readonly ['C' | 'p', number])[]): RetentionCandidate[] {
  return backups.map(([kind, age], index) => ({ number: index + 1, finishedAt: now - age * DAY, isPartial: kind === 'p' }));
}

function kept(candidates: readonly RetentionCandidate[], policy: Parameters<typeof backupsToKeep>[1]): number[] {
  return [...backupsToKeep(candidates, policy, now)].sort((a, b) => a - b);
}

test('keep counts complete backups only: partials every few minutes do not push the daily ones out', () => {
  const backups = history([['C', 3], ['p', 2.9], ['p', 2.8], ['C', 2], ['p', 1.9], ['p', 1.8], ['p', 1.7], ['C', 1], ['p', 0.9]]);
  assert.deepEqual(kept(backups, { keep: [2] }), [4, 5, 6, 7, 8, 9], 'complete 1 is the third newest: it and its partials go');
  assert.deepEqual(kept(backups, { keep: [3] }), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

test('keep_days_partial drops older partials, keeps complete ones, and never the newest backup nor a kept partial\'s earlier links', () => {
  const backups = history([['C', 5], ['p', 4], ['p', 3], ['C', 2.5], ['p', 2.2], ['p', 1.5], ['p', 0.5]]);
  // 5 is past the limit, but 6 and 7 hold only the changes since it: without 5 they would load without its changes.
  assert.deepEqual(kept(backups, { keep: [10], keepDaysPartial: 2 }), [1, 4, 5, 6, 7]);
  const decisions = retentionDecisions(backups, { keep: [10], keepDaysPartial: 2 }, now);
  assert.deepEqual(decisions.find((decision) => decision.number === 5)?.reasons, ['earlier link of kept partial backup 7']);
  const stale = history([['C', 9], ['p', 8], ['p', 7]]);
  assert.deepEqual(kept(stale, { keep: [10], keepDaysPartial: 2 }), [1, 2, 3], 'the newest backup outlives its age limit, and keeps its chain');
  const protectedOne = history([['C', 9], ['p', 8], ['p', 7], ['C', 1]]).map((backup) => (backup.number === 3 ? { ...backup, isProtected: true } : backup));
  assert.deepEqual(kept(protectedOne, { keep: [1], keepDaysPartial: 2 }), [1, 2, 3, 4], 'a protected partial keeps its base and its earlier links');
});

test('keep_days applies to both kinds; keep_days_partial can only be shorter in effect', () => {
  const backups = history([['C', 40], ['p', 39], ['C', 20], ['p', 19], ['p', 3], ['C', 1], ['p', 0.5]]);
  assert.deepEqual(kept(backups, { keep: [10], keepDays: 30 }), [3, 4, 5, 6, 7]);
  assert.deepEqual(kept(backups, { keep: [10], keepDays: 30, keepDaysPartial: 2 }), [3, 6, 7]);
  assert.deepEqual(kept(backups, { keep: [10], keepDays: 2, keepDaysPartial: 30 }), [6, 7]);
});

test('a partial whose complete backup is gone is dropped, even the newest', () => {
  // Backup 1 was deleted by hand (-d): 2 and 3 now follow nothing they can be loaded on.
  const orphans = history([['p', 2], ['p', 1]]);
  assert.deepEqual(kept(orphans, { keep: [10] }), []);
  // Complete 1 leaves through keep=1; its partials 2 and 3 go with it, the one on complete 4 stays.
  const backups = history([['C', 3], ['p', 2.5], ['p', 2.4], ['C', 1], ['p', 0.5]]);
  assert.deepEqual(kept(backups, { keep: [1] }), [4, 5]);
});

test('without partials the rules are the old ones: keep=7/4 levels and keep_days', () => {
  const backups: RetentionCandidate[] = Array.from({ length: 40 }, (_, index) => ({ number: index + 1, finishedAt: now - (40 - index) * DAY }));
  assert.deepEqual(kept(backups, { keep: [7, 4] }), [14, 21, 28, 34, 35, 36, 37, 38, 39, 40]);
  assert.deepEqual(kept(backups, { keep: [7, 4], keepDays: 5 }), [36, 37, 38, 39, 40]);
  assert.deepEqual(kept([], { keep: [3], keepDaysPartial: 1 }), []);
});
