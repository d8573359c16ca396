// Runs a loader command with the restored dump on its stdin (or as an argument) and turns any
// failure into a LoadFailedError carrying the loader's stderr tail, for the restore report.
import { close, constants, open } from 'node:fs';
import { promisify } from 'node:util';
import { LoadFailedError } from '../../common/errors';
import { describeFailure, isSuccess, startProcess, type ProcessOutcome } from './child-process';

const openAsync = promisify(open);
const closeAsync = promisify(close);

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
  try {
    outcome = await startProcess(command.file, command.args, { stdin, stdout: 'ignore', timeoutSeconds, failsOnLeftovers: true, env: command.env }).outcome;
  } finally {
    if (stdin !== 'ignore') await closeAsync(stdin);
  }
  if (!isSuccess(outcome)) {
    const stderr = outcome.stderrTail === '' ? '' : `\n${outcome.stderrTail}`;
    throw new LoadFailedError(sourceName, `loader ${describeFailure(outcome, timeoutSeconds)}${stderr}`);
  }
  return outcome;
}
