// A log file named by a configuration: a regular file (created when absent) or a terminal.
// A FIFO there would block the writer until a reader came (a daemon hung, deaf to SIGTERM).
import { closeSync, constants, fstatSync, openSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import { isatty } from 'node:tty';
import { shownPath } from './config/display';
import { folderProblem, pathLengthProblem } from './config/paths';
import { describeErrno, kindOf } from './config/regular-file';

const APPEND_FLAGS = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NONBLOCK | constants.O_NOCTTY;

/** Undefined when lines can be appended to `file` safely; otherwise why not, as a phrase after the path. */
export function logTargetProblem(file: string): string | undefined {
  const lengthProblem = pathLengthProblem(file);
  if (lengthProblem !== undefined) return `${shownPath(file)} ${lengthProblem}`;
  let stats;
  try {
    stats = statSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') return `${shownPath(file)} ${describeErrno(file, error).problem}`;
    // Absent: created at the first line, in a folder that must be (or become) a folder.
    return folderProblem(path.dirname(file));
  }
  if (stats.isFile()) return undefined;
  if (stats.isCharacterDevice() && isTerminal(file)) return undefined;
  return `${shownPath(file)} is ${kindOf(stats) ?? 'not a regular file'}; a log file must be a regular file or a terminal`;
}

function isTerminal(file: string): boolean {
  let descriptor: number | undefined;
  try {
    descriptor = openSync(file, APPEND_FLAGS & ~constants.O_CREAT);
    return isatty(descriptor);
  } catch {
    return false;
  } finally {
    if (descriptor !== undefined) closeSync(descriptor);
  }
}

/**
 * Opens, checks and appends one line, so a rotated log file is followed; throws (an errno, or an
 * Error saying what the target has become) instead of ever blocking.
 */
export function appendLogLine(file: string, line: string): void {
  const descriptor = openSync(file, APPEND_FLAGS, 0o640);
  try {
    const stats = fstatSync(descriptor);
    if (!stats.isFile() && !(stats.isCharacterDevice() && isatty(descriptor))) {
      throw new Error(`${shownPath(file)} is ${kindOf(stats) ?? 'not a regular file'}; a log file must be a regular file or a terminal`);
    }
    writeSync(descriptor, line);
  } finally {
    closeSync(descriptor);
  }
}
