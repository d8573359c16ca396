// The retention keys server.conf and a client's record share: burp's keep levels, keep_days and
// keep_days_partial, and restic's calendar rules (keep_last … keep_yearly, keep_within), read with
// one set of bounds so the server default and a per-client override always agree.
import { ConfigError } from '../errors';
import { shown } from './display';
import type { ConfigText } from './parse';
import { allLines, lastLine, toInteger } from './values';

/** restic forget's rules: each keeps the newest backup of its last N periods (keep_last: the newest N). */
export interface CalendarRules {
  readonly last?: number;
  readonly hourly?: number;
  readonly daily?: number;
  readonly weekly?: number;
  readonly monthly?: number;
  readonly yearly?: number;
  /** keep_within: every backup younger than this, measured back from the newest backup (restic). */
  readonly within?: CalendarSpan;
}

/** A span as restic writes it, 1y6m, 30d, 12h: years and months are calendar ones (30d before 31 March is 1 March). */
export interface CalendarSpan {
  readonly years: number;
  readonly months: number;
  readonly days: number;
  readonly hours: number;
  /** As written, for the reasons retention prints. */
  readonly text: string;
}

export const CALENDAR_COUNT_KEYS = {
  last: 'keep_last', hourly: 'keep_hourly', daily: 'keep_daily', weekly: 'keep_weekly', monthly: 'keep_monthly', yearly: 'keep_yearly',
} as const;

/** Every single-valued key read here besides keep (repeatable), for the files' lists of known keys. */
export const APPEND_ONLY_KEEP_DAYS_KEY = 'append_only_keep_days';
export const RETENTION_SINGLE_KEYS: readonly string[] = ['keep_days', 'keep_days_partial', ...Object.values(CALENDAR_COUNT_KEYS), 'keep_within',
  APPEND_ONLY_KEEP_DAYS_KEY];

/** keep= lines in order (burp's levels); undefined when there are none. */
export function readKeepLevels(config: ConfigText): readonly number[] | undefined {
  const entries = allLines(config, 'keep');
  if (entries.length === 0) return undefined;
  return Object.freeze(entries.map((entry) => toInteger(config.file, entry, 1, 100000)));
}

/** keep_days= or keep_days_partial=; undefined when absent. */
export function readKeepDays(config: ConfigText, key: 'keep_days' | 'keep_days_partial'): number | undefined {
  const entry = lastLine(config, key);
  return entry === undefined ? undefined : toInteger(config.file, entry, 1, 100 * 365);
}

/**
 * append_only_keep_days=: how many days retention keeps every complete backup of an append-only client
 * (client_can_delete = 0), 0 for none; undefined when absent.
 */
export function readAppendOnlyKeepDays(config: ConfigText): number | undefined {
  const entry = lastLine(config, APPEND_ONLY_KEEP_DAYS_KEY);
  return entry === undefined ? undefined : toInteger(config.file, entry, 0, 100 * 365);
}

/** keep_last … keep_yearly and keep_within; undefined when none is set. */
export function readCalendarRules(config: ConfigText): CalendarRules | undefined {
  const rules: { -readonly [Key in keyof CalendarRules]: CalendarRules[Key] } = {};
  for (const [rule, key] of Object.entries(CALENDAR_COUNT_KEYS) as [Exclude<keyof CalendarRules, 'within'>, string][]) {
    const entry = lastLine(config, key);
    if (entry !== undefined) rules[rule] = toInteger(config.file, entry, 1, 1_000_000);
  }
  const within = lastLine(config, 'keep_within');
  if (within !== undefined) {
    const span = parseCalendarSpan(within.value);
    if (span === undefined) {
      throw new ConfigError(config.file, within.line, `keep_within must be a span such as 30d, 12h, 6m (months) or 1y6m, got "${shown(within.value)}"`);
    }
    rules.within = span;
  }
  return Object.keys(rules).length === 0 ? undefined : Object.freeze(rules);
}

/** restic's duration syntax for --keep-within: any of y, m (months), d, h in that order, at least one, not all zero. */
export function parseCalendarSpan(text: string): CalendarSpan | undefined {
  const match = /^(?:(\d+)y)?(?:(\d+)m)?(?:(\d+)d)?(?:(\d+)h)?$/.exec(text.trim());
  if (match === null || text.trim() === '') return undefined;
  const [years, months, days, hours] = match.slice(1).map((part) => Number(part ?? 0));
  if (years + months + days + hours === 0 || years > 1000) return undefined;
  return Object.freeze({ years, months, days, hours, text: text.trim() });
}
