// Rebuilds a SQLite database from its restored `.dump` SQL in a temp file beside the target,
// checks it, then renames it over the target: the target is never seen half-loaded.
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { LoadFailedError } from '../../common/errors';
import { describeFailure, isSuccess, startProcess } from './child-process';
import { runLoader } from './run-loader';
import { isOnPath } from './shell';
import { toolPrints } from './tables/command-guard';
import type { SqliteSource } from './storage-config';
import { COMPLETE_DUMP_END } from './sqlite-dump-check';
import { syncPath } from '../../common/sync-path';

/** `.dump` ends its transaction with this line only when it read everything without error. */
const SAFE_MODE_PROBE = 'cpsbackup-safe-mode';

export async function loadSqliteDump(source: SqliteSource, path: string): Promise<void> {
  if (!isOnPath('sqlite3')) throw new LoadFailedError(source.name, 'the sqlite3 command is not installed (Debian package sqlite3)');
  // -safe: .shell, .system, .load, writes to other files and ATTACH are refused (command-guard.ts).
  if (!await toolPrints('sqlite3', ['-safe', ':memory:', `SELECT '${SAFE_MODE_PROBE}';`], SAFE_MODE_PROBE)) {
    throw new LoadFailedError(source.name, 'this sqlite3 has no -safe (SQLite 3.37 and later): a restored dump could run shell '
      + 'commands through it (.shell, .system); not loaded. Upgrade sqlite3');
  }
  await checkDumpIsComplete(source.name, path);
  const temporary = join(dirname(source.path), `.${basename(source.path)}.cpsbackup-load`);
  await removeDatabaseFiles(temporary);
  try {
    await runLoader(source.name, { file: 'sqlite3', args: ['-safe', '-bail', temporary], stdinPath: path }, source.timeoutSeconds);
    await checkIntegrity(source.name, temporary, source.timeoutSeconds);
    await syncPath(temporary);
    await replaceDatabase(temporary, source.path);
  } catch (error) {
    await removeDatabaseFiles(temporary);
    throw error;
  }
}

/** The files beside a database that belong to it: a -wal or -shm left there would be replayed into the new one. */
const COMPANION_SUFFIXES = ['-wal', '-shm', '-journal'];

/**
 * The old database's -wal / -shm / -journal are moved aside, not deleted, until the new database has
 * its name: removed first, a failure (or a crash) before the rename lost committed WAL frames, or left
 * the old database without its hot journal. A failure puts them back; a crash leaves them under
 * `.<name>-wal.cpsbackup-aside`, beside the database they belong to.
 */
async function replaceDatabase(temporary: string, target: string): Promise<void> {
  const aside = (suffix: string): string => join(dirname(target), `.${basename(target)}${suffix}.cpsbackup-aside`);
  const moved: string[] = [];
  try {
    for (const suffix of COMPANION_SUFFIXES) {
      if (await moveIfPresent(`${target}${suffix}`, aside(suffix))) moved.push(suffix);
    }
    await rename(temporary, target);
  } catch (error) {
    for (const suffix of moved) await rename(aside(suffix), `${target}${suffix}`);
    throw error;
  }
  await syncPath(dirname(target));
  for (const suffix of moved) await rm(aside(suffix), { force: true });
}

async function moveIfPresent(from: string, to: string): Promise<boolean> {
  try {
    await rename(from, to);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
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

async function removeDatabaseFiles(path: string): Promise<void> {
  for (const suffix of ['', '-journal', '-wal', '-shm']) await rm(`${path}${suffix}`, { force: true });
}
