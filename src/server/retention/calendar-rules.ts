// restic forget's calendar rules as a pure function: keep_last, keep_hourly … keep_yearly keep the newest
// backup of each of the last N periods; keep_within keeps all backups within a span of the newest one.
import type { CalendarRules, CalendarSpan } from '../../common/config/retention-keys';
import { CALENDAR_COUNT_KEYS } from '../../common/config/retention-keys';

export interface DatedBackup {
  readonly number: number;
  /** When the backup finished, ms since the epoch. */
  readonly time: number;
}

type CountRule = keyof typeof CALENDAR_COUNT_KEYS;

/**
 * Periods in the server's local time zone (restic uses the snapshot's): a day runs from local midnight,
 * a week is an ISO week (Monday to Sunday, numbered as ISO 8601).
 */
const PERIOD_OF: Readonly<Record<CountRule, (time: number, position: number) => string>> = {
  last: (_time, position) => `#${position}`,
  hourly: (time) => `${dayOf(new Date(time))} ${String(new Date(time).getHours()).padStart(2, '0')}h`,
  daily: (time) => dayOf(new Date(time)),
  weekly: (time) => isoWeekOf(new Date(time)),
  monthly: (time) => dayOf(new Date(time)).slice(0, 7),
  yearly: (time) => String(new Date(time).getFullYear()),
};

/**
 * Why each backup is kept, by number, for the backups some rule keeps. As restic: walking newest first,
 * a backup is kept by a rule with count left when it opens a period that rule has not seen yet; the
 * oldest backup is kept too while a rule has count left, so the history reaches back as far as it can.
 */
export function calendarReasons(backups: readonly DatedBackup[], rules: CalendarRules): Map<number, string[]> {
  const newestFirst = [...backups].sort((a, b) => b.time - a.time || b.number - a.number);
  const reasons = new Map<number, string[]>();
  const keepFor = (number: number, reason: string): void => {
    reasons.set(number, [...(reasons.get(number) ?? []), reason]);
  };
  const left = new Map<CountRule, number>();
  const lastPeriod = new Map<CountRule, string>();
  for (const rule of Object.keys(CALENDAR_COUNT_KEYS) as CountRule[]) {
    const count = rules[rule];
    if (count !== undefined) left.set(rule, count);
  }
  const withinLimit = rules.within === undefined || newestFirst.length === 0 ? undefined : spanBefore(newestFirst[0].time, rules.within);
  newestFirst.forEach((backup, position) => {
    if (withinLimit !== undefined && backup.time > withinLimit) keepFor(backup.number, `keep_within = ${rules.within!.text}`);
    for (const [rule, count] of left) {
      if (count === 0) continue;
      const period = PERIOD_OF[rule](backup.time, position);
      const isOldest = position === newestFirst.length - 1;
      if (period === lastPeriod.get(rule) && !isOldest) continue;
      lastPeriod.set(rule, period);
      left.set(rule, count - 1);
      keepFor(backup.number, rule === 'last' ? `keep_last = ${rules.last}` : `${CALENDAR_COUNT_KEYS[rule]} (${period})`);
    }
  });
  return reasons;
}

/** The instant `span` before `time`: calendar years, months and days in local time, then hours. */
export function spanBefore(time: number, span: CalendarSpan): number {
  const date = new Date(time);
  date.setFullYear(date.getFullYear() - span.years, date.getMonth() - span.months, date.getDate() - span.days);
  return date.getTime() - span.hours * 3600_000;
}

function dayOf(date: Date): string {
  return `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, '0')}-${String(date.getDate()).padStart(2, '0')}`;
}

/** ISO 8601 week: the week belongs to the year holding its Thursday; week 1 holds 4 January. */
function isoWeekOf(date: Date): string {
  const thursday = new Date(date.getFullYear(), date.getMonth(), date.getDate() - ((date.getDay() + 6) % 7) + 3);
  const isoYear = thursday.getFullYear();
  const firstThursday = new Date(isoYear, 0, 4 - ((new Date(isoYear, 0, 4).getDay() + 6) % 7) + 3);
  const week = 1 + Math.round((thursday.getTime() - firstThursday.getTime()) / (7 * 24 * 3600_000));
  return `${isoYear}-W${String(week).padStart(2, '0')}`;
}
