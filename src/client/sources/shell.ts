// Small shell helpers for dumpers and loaders: running a configured command, quoting a value into
// its text, finding a tool.
// Tools are optional (mongodump, sqlite3), so their presence is checked on PATH, not assumed.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Single-quotes a value for POSIX sh, so paths with spaces or quotes reach the tool intact. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

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
 * How a configured dump or load command runs: bash with pipefail where bash is installed, so that
 * `pg_dump shop | gzip` fails when pg_dump does. Under sh (dash on Debian, which has no pipefail)
 * gzip's exit 0 stood for the pipeline, and an empty dump was stored as a good one. sh -c elsewhere.
 */
export function shellCommand(command: string): { file: string; args: string[] } {
  return isOnPath('bash') ? { file: 'bash', args: ['-o', 'pipefail', '-c', command] } : { file: 'sh', args: ['-c', command] };
}
