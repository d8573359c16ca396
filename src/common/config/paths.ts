// Path-valued and required config keys, shared by server.conf and node.conf readers.
// Relative paths are relative to the config file's folder, never to the process's cwd.
import { lstatSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors';
import type { ConfigLine, ConfigText } from './parse';
import { shownPath } from './display';
import { describeErrno, kindOf } from './regular-file';
import { lastLine } from './values';

/** Linux's PATH_MAX (4096 with the final NUL) and NAME_MAX: longer paths cannot exist. */
export const MAX_PATH_BYTES = 4095;
export const MAX_NAME_BYTES = 255;

export function requiredLine(config: ConfigText, key: string): ConfigLine {
  const entry = lastLine(config, key);
  if (entry === undefined) throw new ConfigError(config.file, undefined, `${key}= is required`);
  return entry;
}

export function resolvePath(file: string, entry: ConfigLine): string {
  if (entry.value === '') throw new ConfigError(file, entry.line, `${entry.key} must not be empty`);
  if (entry.value.includes('\0')) throw new ConfigError(file, entry.line, `${entry.key} contains a NUL byte`);
  return path.resolve(path.dirname(file), entry.value);
}

/** Undefined when a path this long could exist; otherwise why it cannot. */
export function pathLengthProblem(resolved: string): string | undefined {
  const bytes = Buffer.byteLength(resolved);
  if (bytes > MAX_PATH_BYTES) return `is ${bytes} bytes long; a path has at most ${MAX_PATH_BYTES}`;
  const longName = resolved.split('/').find((name) => Buffer.byteLength(name) > MAX_NAME_BYTES);
  if (longName !== undefined) return `has a name of ${Buffer.byteLength(longName)} bytes; a file name has at most ${MAX_NAME_BYTES}`;
  return undefined;
}

/** A path key whose value must fit the system's limits; the error names the key's line. */
export function boundedPath(file: string, entry: ConfigLine): string {
  const resolved = resolvePath(file, entry);
  const problem = pathLengthProblem(resolved);
  if (problem !== undefined) throw new ConfigError(file, entry.line, `${entry.key}: ${shownPath(resolved)} ${problem}`);
  return resolved;
}

/** A file that must exist and be a regular file (following symlinks): not a FIFO, a device or a folder. */
export function existingFile(file: string, entry: ConfigLine): string {
  const resolved = boundedPath(file, entry);
  let stats: Stats;
  try {
    stats = statSync(resolved);
  } catch (error) {
    throw new ConfigError(file, entry.line, `${entry.key}: ${shownPath(resolved)} ${describeErrno(resolved, error).problem}`);
  }
  const kind = kindOf(stats);
  if (kind !== undefined) throw new ConfigError(file, entry.line, `${entry.key}: ${shownPath(resolved)} is ${kind}, not a regular file`);
  return resolved;
}

/**
 * A folder the program creates when absent (the store, work and state folders): when it or an
 * ancestor exists, that must be a folder, and a symlink on the way must lead somewhere, or the
 * first mkdir would fail deep inside a backup instead of here.
 */
export function folderPath(file: string, entry: ConfigLine): string {
  const resolved = boundedPath(file, entry);
  const problem = folderProblem(resolved);
  if (problem !== undefined) throw new ConfigError(file, entry.line, `${entry.key}: ${problem}`);
  return resolved;
}

/** Undefined when `folder` is a folder or can be created as one; otherwise a phrase naming the culprit. */
export function folderProblem(folder: string): string | undefined {
  let existing = folder;
  for (;;) {
    try {
      lstatSync(existing);
      break;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // ENOTDIR: a file stands where a folder should; walking up names it.
      if (code !== 'ENOENT' && code !== 'ENOTDIR') return `${shownPath(existing)} ${describeErrno(existing, error).problem}`;
      existing = path.dirname(existing);
    }
  }
  let stats: Stats;
  try {
    stats = statSync(existing);
  } catch (error) {
    return `${shownPath(existing)} ${describeErrno(existing, error).problem}`;
  }
  if (stats.isDirectory()) return undefined;
  const where = existing === folder ? shownPath(folder) : `${shownPath(existing)} (on the way to ${shownPath(folder)})`;
  return `${where} is ${kindOf(stats) ?? 'a regular file'}, not a folder`;
}
