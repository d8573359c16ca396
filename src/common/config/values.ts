// Typed readers for config values: each failure is a ConfigError naming file and line.
import { ConfigError } from '../errors';
import type { ConfigLine, ConfigText } from './parse';
import { shown } from './display';

export function toInteger(file: string, entry: ConfigLine, min: number, max: number): number {
  if (!/^-?\d+$/.test(entry.value)) {
    throw new ConfigError(file, entry.line, `${entry.key} must be an integer, got "${shown(entry.value)}"`);
  }
  const value = Number(entry.value);
  if (value < min || value > max) {
    throw new ConfigError(file, entry.line, `${entry.key} must be between ${min} and ${max}, got ${shown(entry.value)}`);
  }
  return value;
}

export function toBoolean(file: string, entry: ConfigLine): boolean {
  if (entry.value === '1' || entry.value === 'true' || entry.value === 'yes') return true;
  if (entry.value === '0' || entry.value === 'false' || entry.value === 'no') return false;
  throw new ConfigError(file, entry.line, `${entry.key} must be 0 or 1, got "${shown(entry.value)}"`);
}

export function toRegExp(file: string, entry: ConfigLine): RegExp {
  // An empty pattern matches every path (and shows up later as "(?:)"): a slip, never what was meant.
  if (entry.value === '') throw new ConfigError(file, entry.line, `${entry.key} is empty: it would match every path; remove the line or give a pattern`);
  try {
    return new RegExp(entry.value);
  } catch (error) {
    throw new ConfigError(file, entry.line, `${entry.key} is not a valid regular expression: ${shown((error as Error).message, 160)}`);
  }
}

/** Rejects keys that the caller does not know, and repeats of single-valued keys. */
export function checkKeys(config: ConfigText, known: ReadonlySet<string>, repeatable: ReadonlySet<string>): void {
  const seen = new Set<string>();
  for (const entry of config.lines) {
    if (!known.has(entry.key)) {
      throw new ConfigError(config.file, entry.line, `unknown key "${shown(entry.key)}"`);
    }
    if (seen.has(entry.key) && !repeatable.has(entry.key)) {
      throw new ConfigError(config.file, entry.line, `"${entry.key}" may appear only once`);
    }
    seen.add(entry.key);
  }
}

export function lastLine(config: ConfigText, key: string): ConfigLine | undefined {
  for (let index = config.lines.length - 1; index >= 0; index--) {
    if (config.lines[index].key === key) return config.lines[index];
  }
  return undefined;
}

export function allLines(config: ConfigText, key: string): ConfigLine[] {
  return config.lines.filter((entry) => entry.key === key);
}
