// Runs a loader command with the restored dump on its stdin (or as an argument) and turns any
// failure into a LoadFailedError carrying the loader's stderr tail, for the restore report. A loader
// that exits 0 without reading its stdin to the end did not load the whole dump (a load command that
// ignores stdin, a typo'd script): that is a failed load, not a loaded one.
import { close, constants, fstat, open } from 'node:fs';
import { promisify } from 'node:util';
import { LoadFailedError } from '../../common/errors';
import { describeFailure, isSuccess, startProcess, type ProcessOutcome } from './child-process';
import { offsetOf } from './fd-offset';

const openAsync = promisify(open);
const closeAsync = promisify(close);
const fstatAsync = promisify(fstat);

export interface LoaderCommand {
  readonly file: string;
  readonly args: readonly string[];
  /** Path fed to the loader's stdin; undefined when the loader opens the file itself. */
  readonly stdinPath?: string;
  /** The loader's environment; default: this process's. */
  readonly env?: NodeJS.ProcessEnv;
}

export async function runLoader(sourceName: string, command: LoaderCommand, timeoutSeconds: number): Promise<ProcessOutcome> {
  const stdin = command.stdinPath === undefined ? 'ignore' : await openAsync(command.stdinPath, constants.O_RDONLY);
  let outcome: ProcessOutcome;
  let unread: string | undefined;
  try {
    outcome = await startProcess(command.file, command.args, { stdin, stdout: 'ignore', timeoutSeconds, failsOnLeftovers: true, env: command.env }).outcome;
    if (stdin !== 'ignore' && isSuccess(outcome)) unread = await unreadPart(stdin);
  } finally {
    if (stdin !== 'ignore') await closeAsync(stdin);
  }
  if (!isSuccess(outcome)) {
    const stderr = outcome.stderrTail === '' ? '' : `\n${outcome.stderrTail}`;
    throw new LoadFailedError(sourceName, `loader ${describeFailure(outcome, timeoutSeconds)}${stderr}`);
  }
  if (unread !== undefined) {
    throw new LoadFailedError(sourceName, `loader exited 0 but ${unread} of ${command.stdinPath ?? 'the dump'} on its stdin: `
      + 'the dump was not loaded whole (a loader that opens the file itself should name it as {file})');
  }
  return outcome;
}

/** What the loader left unread of its stdin, said in words; undefined when it read it all. */
async function unreadPart(fd: number): Promise<string | undefined> {
  const [offset, { size }] = await Promise.all([offsetOf(fd), fstatAsync(fd)]);
  if (offset === undefined || offset >= size) return undefined;
  return offset === 0 ? `read none of the ${size} bytes` : `read only ${offset} of the ${size} bytes`;
}
