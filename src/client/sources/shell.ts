// Small shell helpers for dumpers and loaders: running a configured command, finding a tool.
// Tools are optional (mongodump, sqlite3), so their presence is checked on PATH, not assumed.
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export function isOnPath(tool: string, searchPath = process.env.PATH ?? ''): boolean {
  return searchPath.split(delimiter).some((folder) => {
    if (folder === '') return false;
    try {
      accessSync(join(folder, tool), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * A command with a pipe where no shell here has pipefail (no bash; dash as sh): a failure before the
 * last | would be hidden by the last command's exit 0, an empty or cut dump stored as a good one.
 */
export class PipeWithoutPipefailError extends Error {
  constructor() {
    super('the command has a pipe (|), and this machine has no bash and its sh has no pipefail, so a failure of a '
      + 'command before the last | would go unseen; install bash (or write the command without a pipe; a | inside '
      + 'quotes counts too)');
    this.name = 'PipeWithoutPipefailError';
  }
}

/**
 * How a configured dump or load command runs: with pipefail, so that `pg_dump shop | gzip` fails when
 * pg_dump does. bash where installed; else sh where it has pipefail (busybox ash, ksh). Regression:
 * under an sh without it (dash on Debian) gzip's exit 0 stood for the pipeline, and an empty dump was
 * stored as a good one; such a command with a pipe is now refused: `refused` makes the caller's typed
 * error of the reason (PipeWithoutPipefailError without one). `template`: the operator's text, before
 * {file} was replaced.
 */
export function shellCommand(command: string, options: { template?: string; refused?: (reason: Error) => Error } = {}): { file: string; args: string[] } {
  if (isOnPath('bash')) return { file: 'bash', args: ['-o', 'pipefail', '-c', command] };
  if (shHasPipefail()) return { file: 'sh', args: ['-o', 'pipefail', '-c', command] };
  if (hasPipe(options.template ?? command)) {
    const reason = new PipeWithoutPipefailError();
    throw options.refused?.(reason) ?? reason;
  }
  return { file: 'sh', args: ['-c', command] };
}

/** Asked of sh itself (one spawn, only on a machine without bash): shells that have it differ by version. */
function shHasPipefail(): boolean {
  return spawnSync('sh', ['-o', 'pipefail', '-c', 'true'], { stdio: 'ignore' }).status === 0;
}

/** A | that is not half of ||. Quoting is not parsed: a quoted | counts (a refusal, never a miss). */
function hasPipe(command: string): boolean {
  return /(?<!\|)\|(?!\|)/.test(command);
}
