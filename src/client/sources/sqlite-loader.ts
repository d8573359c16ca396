// Rebuilds a SQLite database from its restored `.dump` SQL in a private staging folder, checks it, then
// renames it over the target (sqlite-replace.ts): the target is never seen half-loaded, nor followed.
import { closeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { LoadFailedError } from '../../common/errors';
import { describeFailure, isSuccess, startProcess } from './child-process';
import { runLoader } from './run-loader';
import { isOnPath } from './shell';
import { toolPrints } from './tables/command-guard';
import type { SqliteSource } from './storage-config';
import { COMPLETE_DUMP_END } from './sqlite-dump-check';
import { syncPath } from '../../common/sync-path';
import { operatorRealFolder } from '../posix/operator-real-path';
import { makeStagingFolder } from './staging-folder';
import { replaceDatabase } from './sqlite-replace';

/** `.dump` ends its transaction with this line only when it read everything without error. */
const SAFE_MODE_PROBE = 'cpsbackup-safe-mode';
/** The database's name in its staging folder. */
const BUILT_NAME = 'database.sqlite3';

/**
 * `workFolder` holds the database while sqlite3 builds it: sqlite3 takes a path string and resolves its
 * symlinks itself, so it never works in the database's own folder, which the application's user may write to.
 */
export async function loadSqliteDump(source: SqliteSource, path: string, workFolder: string = tmpdir()): Promise<void> {
  if (!isOnPath('sqlite3')) throw new LoadFailedError(source.name, 'the sqlite3 command is not installed (Debian package sqlite3)');
  // -safe: .shell, .system, .load, writes to other files and ATTACH are refused (command-guard.ts).
  if (!await toolPrints('sqlite3', ['-safe', ':memory:', `SELECT '${SAFE_MODE_PROBE}';`], SAFE_MODE_PROBE)) {
    throw new LoadFailedError(source.name, 'this sqlite3 has no -safe (SQLite 3.37 and later): a restored dump could run shell '
      + 'commands through it (.shell, .system); not loaded. Upgrade sqlite3');
  }
  await checkDumpIsComplete(source.name, path);
  // Held from here on: a symlink someone else could have planted on the way is refused, never followed.
  const folder = operatorRealFolder(resolve(dirname(source.path)), 'owned');
  try {
    const staging = await makeStagingFolder(source.name, workFolder);
    try {
      const built = join(staging.path, BUILT_NAME);
      await runLoader(source.name, { file: 'sqlite3', args: ['-safe', '-bail', built], stdinPath: path }, source.timeoutSeconds);
      await checkIntegrity(source.name, built, source.timeoutSeconds);
      await syncPath(built);
      await replaceDatabase(staging.fd, BUILT_NAME, folder.fd, basename(source.path));
    } finally {
      await staging.remove();
    }
  } finally {
    closeSync(folder.fd);
  }
}

async function checkDumpIsComplete(sourceName: string, path: string): Promise<void> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    const tail = Buffer.alloc(Math.min(size, 64));
    await file.read(tail, 0, tail.length, size - tail.length);
    if (!tail.toString('utf8').trimEnd().endsWith(COMPLETE_DUMP_END)) {
      throw new LoadFailedError(sourceName, `${path} does not end with "${COMPLETE_DUMP_END}": the dump is truncated or recorded errors`);
    }
  } finally {
    await file.close();
  }
}

/** Run in the sqlite3 process: a big database's check would otherwise stall our event loop. */
async function checkIntegrity(sourceName: string, path: string, timeoutSeconds: number): Promise<void> {
  const outcome = await startProcess('sqlite3', ['-bail', path, 'PRAGMA integrity_check;'], { stdin: 'ignore', stdout: 'capture', timeoutSeconds }).outcome;
  const verdict = outcome.stdoutHead.trim();
  if (!isSuccess(outcome) || verdict !== 'ok') {
    throw new LoadFailedError(sourceName, `rebuilt database fails integrity_check: ${verdict || describeFailure(outcome, timeoutSeconds)}\n${outcome.stderrTail}`.trim());
  }
}
