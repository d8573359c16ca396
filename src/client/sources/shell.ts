// Small shell helpers for dumpers and loaders: quoting a value into `sh -c` text, finding a tool.
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
