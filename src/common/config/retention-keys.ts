// The retention keys server.conf and a client's record share (keep, keep_days, keep_days_partial),
// read with one set of bounds so the server default and a per-client override always agree.
import type { ConfigText } from './parse';
import { allLines, lastLine, toInteger } from './values';

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
