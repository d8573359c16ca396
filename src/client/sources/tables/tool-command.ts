// A database client tool to run: its path, arguments and environment (connection, credentials),
// and the helper that runs one query and returns its whole answer or throws with its stderr.
import { join } from 'node:path';
import { BackupError } from '../../../common/errors';
import { describeFailure, isSuccess, startProcess } from '../child-process';
import { isOnPath } from '../shell';

export interface ToolCommand {
  readonly file: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  /** Input written to the tool's stdin (a script), or undefined for none. */
  readonly input?: string;
}

/** The first of `names` found in binDirectory (when set) or on PATH; undefined if none is. */
export function findTool(names: readonly string[], binDirectory: string | undefined): string | undefined {
  for (const name of names) {
    if (binDirectory !== undefined) {
      if (isOnPath(name, binDirectory)) return join(binDirectory, name);
    } else if (isOnPath(name)) {
      return name;
    }
  }
  return undefined;
}

/**
 * Runs a query tool and returns its stdout. `fail` builds the error (DumpFailedError while dumping,
 * LoadFailedError while loading) from a message and the tool's stderr tail.
 */
export async function runQuery(command: ToolCommand, timeoutSeconds: number, what: string,
  fail: (message: string, stderrTail: string) => BackupError): Promise<string> {
  const running = startProcess(command.file, command.args, {
    stdin: command.input === undefined ? 'ignore' : 'pipe', stdout: 'collect', timeoutSeconds, env: command.env,
  });
  if (command.input !== undefined) running.stdin?.end(command.input);
  const outcome = await running.outcome;
  if (!isSuccess(outcome)) throw fail(`${what}: ${command.file} ${describeFailure(outcome, timeoutSeconds)}`, outcome.stderrTail);
  return outcome.stdoutHead;
}
