// Retention rules as pure functions (issue 16): restic's calendar rules (keep_last … keep_yearly,
// keep_within), burp's keep levels over complete-backup ordinals (failed attempts leave gaps in the
// numbers, never in the levels), their union, keep_days as a cap, and protection.
// Periods are the local time zone's: this file runs in UTC so its dates mean what they say.
process.env.TZ = 'UTC';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { calendarReasons } from '../src/server/retention/calendar-rules';
import { burpLevelReasons } from '../src/server/retention/burp-levels';
import { retentionDecisions, type RetentionCandidate, type RetentionPolicy } from '../src/server/retention/retention-decisions';
import { parseCalendarSpan } from '../src/common/config/retention-keys';

const HOUR = 3600_000;
const DAY = 24 * HOUR;

/** Backups numbered 1, 2, … at the given UTC times. */
function dated(times: readonly string[]): { number: number; time: number }[] {
  return times.map((time, index) => ({ number: index + 1, time: Date.parse(`${time}Z`) }));
}

function keptNumbers(reasons: Map<number, string[]>): number[] {
  return [...reasons.keys()].sort((a, b) => a - b);
}

function span(text: string) {
  const parsed = parseCalendarSpan(text);
  assert.ok(parsed, text);
  return parsed;
}

test('keep_daily keeps the newest backup of each of the last N days, and the oldest while counts are left', () => {
  const backups = dated(['2026-03-01T08:00', '2026-03-01T20:00', '2026-03-02T08:00', '2026-03-02T20:00', '2026-03-03T01:00', '2026-03-03T23:59']);
  assert.deepEqual(keptNumbers(calendarReasons(backups, { daily: 2 })), [4, 6]);
  const reasons = calendarReasons(backups, { daily: 3 });
  assert.deepEqual(keptNumbers(reasons), [2, 4, 6]);
  assert.deepEqual(reasons.get(6), ['keep_daily (2026-03-03)']);
  // restic: with counts left after the last period, the very oldest backup is kept as well.
  assert.deepEqual(keptNumbers(calendarReasons(backups, { daily: 10 })), [1, 2, 4, 6]);
});

test('keep_hourly, keep_monthly and keep_yearly bucket by hour, month and year', () => {
  const hours = dated(['2026-03-01T08:10', '2026-03-01T08:50', '2026-03-01T09:05', '2026-03-01T09:55']);
  assert.deepEqual(keptNumbers(calendarReasons(hours, { hourly: 2 })), [2, 4]);
  const months = dated(['2025-11-30T12:00', '2025-12-01T12:00', '2025-12-31T12:00', '2026-01-15T12:00', '2026-02-01T00:00']);
  assert.deepEqual(keptNumbers(calendarReasons(months, { monthly: 3 })), [3, 4, 5]);
  assert.deepEqual(keptNumbers(calendarReasons(months, { yearly: 1 })), [5]);
  assert.deepEqual(keptNumbers(calendarReasons(months, { yearly: 2 })), [3, 5]);
});

test('keep_weekly uses ISO weeks: 3 January 2021 is in 2020-W53, 4 January starts 2021-W01', () => {
  const backups = dated(['2020-12-27T12:00', '2020-12-28T12:00', '2021-01-03T12:00', '2021-01-04T12:00', '2021-01-10T12:00']);
  const reasons = calendarReasons(backups, { weekly: 3 });
  assert.deepEqual(keptNumbers(reasons), [1, 3, 5]);
  assert.deepEqual(reasons.get(3), ['keep_weekly (2020-W53)']);
  assert.deepEqual(reasons.get(5), ['keep_weekly (2021-W01)']);
});

test('keep_last keeps the newest N; keep_within counts back from the newest backup, not from now', () => {
  const backups = dated(['2026-01-01T00:00', '2026-01-20T00:00', '2026-01-31T00:00', '2026-02-10T00:00', '2026-03-01T00:00']);
  assert.deepEqual(keptNumbers(calendarReasons(backups, { last: 2 })), [4, 5]);
  const within = calendarReasons(backups, { within: span('30d') });
  assert.deepEqual(keptNumbers(within), [3, 4, 5], '30 days before 1 March 2026 is 30 January');
  assert.deepEqual(within.get(5), ['keep_within = 30d']);
  assert.deepEqual(keptNumbers(calendarReasons(backups, { within: span('1m') })), [4, 5], 'one calendar month before 1 March is 1 February');
  assert.deepEqual(keptNumbers(calendarReasons(backups, { within: span('1m1d') })), [4, 5], 'strictly after the limit: 31 January is not');
  assert.deepEqual(keptNumbers(calendarReasons(backups, { within: span('1m2d') })), [3, 4, 5]);
  assert.deepEqual(keptNumbers(calendarReasons(backups, { within: span('1y') })), [1, 2, 3, 4, 5]);
});

test('keep_within spans parse as restic writes them and refuse the rest', () => {
  assert.deepEqual(parseCalendarSpan('1y6m2d3h'), { years: 1, months: 6, days: 2, hours: 3, text: '1y6m2d3h' });
  for (const bad of ['', '0d', '30', 'd', '3d1y', '1w', '-1d']) assert.equal(parseCalendarSpan(bad), undefined, bad);
});

/** One complete backup a day for `days` days; every `failEvery`th attempt fails and uses up a number. */
function dailyWithFailures(days: number, failEvery: number): { number: number; ordinal: number }[] {
  const committed: { number: number; ordinal: number }[] = [];
  let number = 0;
  for (let day = 1; committed.length < days; day++) {
    number++;
    if (number % failEvery === 0) continue; // the failed attempt: a number, no backup
    committed.push({ number, ordinal: committed.length + 1 });
  }
  return committed;
}

/** Runs keep levels after each commit, as the server does, deleting what they do not keep. */
function keptByLevelsOverTime(history: readonly { number: number; ordinal: number }[], keep: readonly number[],
  count: (backup: { number: number; ordinal: number }) => number): { number: number; ordinal: number }[] {
  let existing: { number: number; ordinal: number }[] = [];
  for (const backup of history) {
    existing = [...existing, backup];
    const reasons = burpLevelReasons(existing.map((item) => ({ number: item.number, ordinal: count(item) })), keep);
    existing = existing.filter((item) => reasons.has(item.number) || item === backup);
  }
  return existing;
}

test('keep = 7 / keep = 4 counts committed complete backups: failed attempts do not leave a week without a backup', () => {
  const history = dailyWithFailures(40, 5);
  assert.ok(history.at(-1)!.number > 40, 'the failures used up numbers');
  const newestOrdinal = history.at(-1)!.ordinal;
  const kept = keptByLevelsOverTime(history, [7, 4], (backup) => backup.ordinal);
  const positions = kept.map((backup) => newestOrdinal - backup.ordinal + 1).sort((a, b) => a - b);
  assert.deepEqual(positions.filter((position) => position <= 7), [1, 2, 3, 4, 5, 6, 7]);
  for (const [from, to] of [[8, 14], [15, 21], [22, 28]]) {
    assert.equal(positions.filter((position) => position >= from && position <= to).length, 1, `one backup kept in positions ${from}–${to}: ${positions}`);
  }
  assert.ok(positions.every((position) => position <= 28), `nothing older than position 28: ${positions}`);

  // The same history counted by backup number (the old rule): some week of positions keeps nothing.
  const byNumber = keptByLevelsOverTime(history, [7, 4], (backup) => backup.number);
  const numberPositions = byNumber.map((backup) => newestOrdinal - backup.ordinal + 1);
  const emptyWeeks = [[8, 14], [15, 21], [22, 28]].filter(([from, to]) => !numberPositions.some((position) => position >= from && position <= to));
  assert.ok(emptyWeeks.length > 0, `counting numbers with gaps left every week covered (${numberPositions}); the test proves nothing`);
});

function candidates(list: readonly Partial<RetentionCandidate>[]): RetentionCandidate[] {
  return list.map((item, index) => ({ number: index + 1, finishedAt: 0, completeOrdinal: index + 1, ...item }));
}

function decided(list: RetentionCandidate[], policy: RetentionPolicy, now = 0): Record<number, string> {
  return Object.fromEntries(retentionDecisions(list, policy, now).map((decision) => [decision.number,
    `${decision.isKept ? 'kept' : 'removed'}: ${decision.reasons.join('; ')}`]));
}

test('keep levels and calendar rules together keep the union, each reason named', () => {
  const base = Date.parse('2026-03-10T12:00Z');
  const list = candidates(Array.from({ length: 10 }, (_, index) => ({ finishedAt: base - (9 - index) * DAY })));
  // Backup n finished on n March 2026; 1 and 8 March are Sundays.
  const decisions = decided(list, { keep: [2], calendar: { weekly: 3 } });
  assert.deepEqual(Object.entries(decisions).filter(([, text]) => text.startsWith('kept')).map(([number]) => Number(number)), [1, 8, 9, 10]);
  assert.equal(decisions[10], 'kept: newest complete backup; keep = 2 (newest 2); keep_weekly (2026-W11)');
  assert.equal(decisions[9], 'kept: keep = 2 (newest 2)');
  assert.equal(decisions[8], 'kept: keep_weekly (2026-W10)');
  assert.equal(decisions[1], 'kept: keep_weekly (2026-W09)');
  assert.equal(decisions[5], 'removed: no rule keeps it');
});

test('keep_days caps every rule but the newest; a protected backup outlives all rules, and its partials\' base with it', () => {
  const now = Date.parse('2026-03-10T12:00Z');
  const list = candidates([
    { finishedAt: now - 20 * DAY, isProtected: true },
    { finishedAt: now - 10 * DAY },
    { finishedAt: now - 9 * DAY },
    { finishedAt: now - 8.9 * DAY, isPartial: true, isProtected: true, completeOrdinal: undefined },
    { finishedAt: now - 1 * DAY },
  ]);
  const decisions = decided(list, { keep: [10], keepDays: 5 }, now);
  assert.equal(decisions[1], 'kept: protected');
  assert.equal(decisions[2], 'removed: older than keep_days = 5');
  assert.equal(decisions[3], 'kept: base of protected partial backup 4');
  assert.equal(decisions[4], 'kept: protected');
  assert.equal(decisions[5], 'kept: newest complete backup; keep = 10 (newest 10)');
});

/** A client's backups as the server keeps them: one more each day, then retention applied at once. */
class DailyRetention {
  private existing: RetentionCandidate[] = [];

  constructor(private readonly policy: RetentionPolicy) {}

  /** Adds the backup, applies retention as of its day, and returns the numbers kept. */
  add(backup: RetentionCandidate): number[] {
    this.existing = [...this.existing, backup];
    const decisions = retentionDecisions(this.existing, this.policy, backup.finishedAt);
    this.existing = this.existing.filter((kept) => decisions.find((decision) => decision.number === kept.number)!.isKept);
    return this.numbers();
  }

  numbers(): number[] {
    return this.existing.map((backup) => backup.number);
  }

  reasonsOf(number: number, now: number): readonly string[] {
    return retentionDecisions(this.existing, this.policy, now).find((decision) => decision.number === number)!.reasons;
  }
}

test('incomplete backups never push out the newest backup that holds every file; a whole backup after them lets it go', () => {
  // A file unreadable night after night from backup 3 on: keep = 2 alone would leave only incomplete copies.
  const policy: RetentionPolicy = { keep: [2] };
  const store = new DailyRetention(policy);
  const keptAfter = (number: number, isIncomplete: boolean): number[] => store.add({ number, finishedAt: number * DAY, isIncomplete });
  assert.deepEqual(keptAfter(1, false), [1]);
  assert.deepEqual(keptAfter(2, false), [1, 2]);
  for (let number = 3; number <= 9; number++) keptAfter(number, true);
  assert.deepEqual(store.numbers(), [2, 8, 9]);
  assert.deepEqual(store.reasonsOf(2, 9 * DAY), ['newest backup with every file (the complete backups after it are incomplete)']);
  assert.deepEqual(keptAfter(10, false), [9, 10], 'once a backup holds every file again, the old whole copy goes by the rules');
});

test('keep_days caps the newest backup with every file as it caps every rule; every backup incomplete adds nothing', () => {
  const backups: RetentionCandidate[] = [
    { number: 1, finishedAt: 1 * DAY }, { number: 2, finishedAt: 50 * DAY, isIncomplete: true }, { number: 3, finishedAt: 60 * DAY, isIncomplete: true },
  ];
  assert.deepEqual(retentionDecisions(backups, { keep: [2], keepDays: 90 }, 61 * DAY).map((decision) => decision.isKept), [true, true, true]);
  const capped = retentionDecisions(backups, { keep: [2], keepDays: 30 }, 61 * DAY);
  assert.deepEqual(capped.map((decision) => decision.isKept), [false, true, true]);
  assert.deepEqual(capped[0].reasons, ['older than keep_days = 30']);
  const allIncomplete = backups.map((backup) => ({ ...backup, isIncomplete: true }));
  assert.deepEqual(retentionDecisions(allIncomplete, { keep: [2] }, 61 * DAY).map((decision) => decision.isKept), [false, true, true]);
  // Partials are not "complete backups": an incomplete complete backup followed by partials still keeps the whole one.
  const withPartials: RetentionCandidate[] = [
    { number: 1, finishedAt: DAY }, { number: 2, finishedAt: 2 * DAY, isIncomplete: true }, { number: 3, finishedAt: 3 * DAY, isPartial: true },
  ];
  assert.deepEqual(retentionDecisions(withPartials, { keep: [1] }, 3 * DAY).map((decision) => decision.isKept), [true, true, true]);
});

test('empty backups (an include whose disk did not mount) never push out the newest backup that holds files', () => {
  // keep = 7, and seven nights of 0 files: by the levels alone every real backup went.
  const policy: RetentionPolicy = { keep: [7] };
  const store = new DailyRetention(policy);
  const keptAfter = (number: number, isEmpty: boolean): number[] => store.add({ number, finishedAt: number * DAY, isEmpty });
  for (let number = 1; number <= 3; number++) keptAfter(number, false);
  for (let number = 4; number <= 12; number++) keptAfter(number, true);
  assert.deepEqual(store.numbers(), [3, 6, 7, 8, 9, 10, 11, 12]);
  assert.deepEqual(store.reasonsOf(3, 12 * DAY), ['newest backup that holds files (the complete backups after it hold none)']);
  assert.deepEqual(keptAfter(13, false), [7, 8, 9, 10, 11, 12, 13], 'once a backup holds files again, the old one goes by the rules');
  // keep_days caps it as every rule; a client whose backups are all empty keeps what the rules keep.
  const capped = retentionDecisions([{ number: 1, finishedAt: DAY }, { number: 2, finishedAt: 60 * DAY, isEmpty: true }], { keep: [1], keepDays: 30 }, 61 * DAY);
  assert.deepEqual(capped.map((decision) => decision.isKept), [false, true]);
  const allEmpty = retentionDecisions([{ number: 1, finishedAt: DAY, isEmpty: true }, { number: 2, finishedAt: 2 * DAY, isEmpty: true }], { keep: [1] }, 2 * DAY);
  assert.deepEqual(allEmpty.map((decision) => decision.isKept), [false, true]);
});

test('empty and incomplete backups together never push out the newest whole backup, in either order', () => {
  // Found by review: a whole backup, a night whose disk did not mount (no file), then nights with a file unreadable.
  // Each safeguard counted the other kind of flawed backup as whole, and the only copy of that file went.
  const wholeEmptyIncomplete: RetentionCandidate[] = [
    { number: 1, finishedAt: DAY }, { number: 2, finishedAt: 2 * DAY, isEmpty: true }, { number: 3, finishedAt: 3 * DAY, isIncomplete: true },
  ];
  const first = retentionDecisions(wholeEmptyIncomplete, { keep: [2] }, 3 * DAY);
  assert.deepEqual(first.map((decision) => decision.isKept), [true, true, true]);
  assert.deepEqual(first[0].reasons, ['newest backup with every file (the complete backups after it are incomplete or hold no file)']);
  const wholeIncompleteEmpty: RetentionCandidate[] = [
    { number: 1, finishedAt: DAY }, { number: 2, finishedAt: 2 * DAY, isIncomplete: true }, { number: 3, finishedAt: 3 * DAY, isEmpty: true },
  ];
  const second = retentionDecisions(wholeIncompleteEmpty, { keep: [1] }, 3 * DAY);
  assert.deepEqual(second.map((decision) => decision.isKept), [true, true, true], 'the whole one, the newest with files, and the newest');
  assert.deepEqual(second[0].reasons, ['newest backup with every file (the complete backups after it are incomplete or hold no file)']);
  assert.deepEqual(second[1].reasons, ['newest backup that holds files (the complete backups after it hold none)']);
  // An empty backup marked incomplete (an include missing) is no whole backup either.
  const emptyAndIncomplete: RetentionCandidate[] = [
    { number: 1, finishedAt: DAY }, { number: 2, finishedAt: 2 * DAY, isEmpty: true, isIncomplete: true }, { number: 3, finishedAt: 3 * DAY, isIncomplete: true },
  ];
  assert.deepEqual(retentionDecisions(emptyAndIncomplete, { keep: [1] }, 3 * DAY).map((decision) => decision.isKept), [true, false, true]);
});

test('an append-only client keeps every complete backup younger than append_only_keep_days, within keep_days; 0 keeps none more', () => {
  const now = 100 * DAY;
  // Two real backups 10 and 5 days ago, then a flood of six within the last hour.
  const list = candidates([
    { finishedAt: now - 10 * DAY }, { finishedAt: now - 5 * DAY },
    ...Array.from({ length: 6 }, (_, index) => ({ finishedAt: now - HOUR + index * 60_000 })),
  ]);
  const keptOf = (policy: RetentionPolicy): number[] =>
    retentionDecisions(list, policy, now).filter((decision) => decision.isKept).map((decision) => decision.number);
  assert.deepEqual(keptOf({ keep: [2] }), [7, 8], 'the count rule alone: the flood pushes out the real backups');
  // The rules count only what is older than the window: backup 1 is the newest of those.
  assert.deepEqual(keptOf({ keep: [2], appendOnlyKeepDays: 7 }), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual(keptOf({ keep: [2], appendOnlyKeepDays: 30 }), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual(keptOf({ keep: [2], appendOnlyKeepDays: 30, keepDays: 7 }), [2, 3, 4, 5, 6, 7, 8], 'keep_days caps it');
  assert.deepEqual(keptOf({ keep: [2], appendOnlyKeepDays: 0 }), [7, 8]);
  const reasons = decided(list, { keep: [2], appendOnlyKeepDays: 7 }, now);
  assert.equal(reasons[2], 'kept: append-only client, younger than 7 days (append_only_keep_days)');
  assert.equal(reasons[1], 'kept: keep = 2 (newest 2)');
});

// Review: counted with the rules, a burst of backups pushed out the weeklies too (keep = 7, keep = 4):
// everything older than the window went at once. The rules count only what has left the window now.
test('an append-only client\'s burst of backups changes nothing the rules keep of its older history', () => {
  const now = 200 * DAY;
  const real = Array.from({ length: 90 }, (_, index) => ({ finishedAt: now - (90 - index) * DAY + HOUR }));
  const burst = Array.from({ length: 28 }, (_, index) => ({ finishedAt: now - HOUR + index * 60_000 }));
  const keptReal = (list: RetentionCandidate[]): number[] => retentionDecisions(list, { keep: [7, 4], appendOnlyKeepDays: 7 }, now)
    .filter((decision) => decision.isKept && decision.number <= 90).map((decision) => decision.number);
  const before = keptReal(candidates(real));
  assert.deepEqual(keptReal(candidates([...real, ...burst])), before);
  assert.deepEqual(before, [56, 63, 70, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90]);
});
