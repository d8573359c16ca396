// After a restore, re-injects each restored dump file with its source's loader, in order, and
// deletes the file once loaded; a failed load keeps the file and reports the loader's stderr.
import { rmdir, unlink } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { errorMessage } from '../../common/errors';
import { LOADS_FOLDER } from '../own-folders';
import { loadCommandDump } from './command-loader';
import type { DumpKind } from './dump-kind';
import { DUMPS_FOLDER, isDumpFileName } from './dump-names';
import { loadMongodbDump } from './mongodb-loader';
import { loadSqliteDump } from './sqlite-loader';
import { isDatabaseSource, type DumpSource, type StorageConfig } from './storage-config';
import { loadDatabaseDump } from './database-loader';
import { loadIntoFor, type LoadInto } from './load-into';
import { untrustedFolderReason } from './trusted-folder';
import { writtenDumpChange, type WrittenDump } from './written-dump';
import { DATA_FILE_NAME, ROUTINES_FILE_NAME, SCHEMA_FILE_NAME, TRIGGERS_FILE_NAME } from './tables/data-format';

/** Where a dump file was restored. */
export interface RestoredDump {
  readonly path: string;
  readonly sourceName: string;
  /** The file as the restore wrote it: loaded only while the path still holds exactly that (written-dump.ts). */
  readonly written?: WrittenDump;
}

export interface LoadResult {
  readonly sourceName: string;
  readonly path: string;
  readonly ok: boolean;
  readonly error?: string;
  /**
   * The load succeeded but did not apply this file, saying why (MariaDB's triggers.jsonl over existing tables: the
   * target keeps its own triggers). Removed with the others: what it held is in the backup.
   */
  readonly notApplied?: string;
  /**
   * Loaded, with something its user must know (a database load's: a partition the source's tree does not hold,
   * detached and kept as a table here). Set on the data.sql of a database source only, so each is said once.
   */
  readonly warnings?: readonly string[];
  /** Not loaded because no source here loads it (none of that name, or --load-into leaves it out): kept, nothing run. */
  readonly isUnclaimed?: boolean;
}

export interface LoadOptions {
  /**
   * Which dumps are partial (database dumps say so themselves): the source names the backup recorded
   * (partialDumpsOf), or true for a partial backup made before it recorded them, whose sources with
   * a partial loader use it.
   */
  readonly partial?: boolean | ReadonlySet<string>;
  /** Load only the database sources it covers, into the databases it names; any other dump is kept, not loaded. */
  readonly loadInto?: LoadInto;
  /**
   * Sources left out on purpose (receive_ignore, for another client's backups): their files are kept, nothing is
   * run, and each is named as not loaded.
   */
  readonly ignoredSources?: readonly string[];
  /** This node's work folder: database loads keep their credential files there, SQLite loads build the database there. */
  readonly workDirectory?: string;
  /**
   * Aborted (a daemon stopped by force, Ctrl-C of -i): loads not yet started are not started; their files are
   * kept. A load running then is not stopped by it: whoever aborts stops its process group (stopRunningProcesses).
   */
  readonly signal?: AbortSignal;
}

/**
 * Runs each source's loader on its restored files in order; deletes a file after its load
 * succeeded; keeps it and reports stderr on failure. One failure does not stop the others.
 * A database source's schema.sql, data.sql (and MariaDB's triggers.jsonl) load together, as one load reported for each file.
 */
export async function loadRestoredDumps(config: StorageConfig, dumps: readonly RestoredDump[], options: LoadOptions = {}): Promise<LoadResult[]> {
  const results: LoadResult[] = [];
  const groups = new Map<string, RestoredDump[]>();
  for (const dump of dumps) {
    const key = `${dump.sourceName}\0${dirname(dump.path)}`;
    groups.set(key, [...(groups.get(key) ?? []), dump]);
  }
  for (const group of groups.values()) {
    const sourceName = group[0].sourceName;
    const source = config.sources.find((candidate) => candidate.name === sourceName);
    const fail = (error: string, isUnclaimed = false): void => {
      for (const dump of group) results.push({ sourceName, path: dump.path, ok: false, error, ...(isUnclaimed ? { isUnclaimed } : {}) });
    };
    if (source === undefined) {
      fail(`no source "${sourceName}" in ${config.file}; file kept`, true);
      continue;
    }
    if (options.signal?.aborted) {
      fail('not loaded: stopped before its turn; file kept');
      continue;
    }
    if (options.ignoredSources?.includes(sourceName) === true) {
      fail('not loaded: receive_ignore (node.conf) leaves this source of another client\'s backups out; file kept', true);
      continue;
    }
    const loadInto = options.loadInto === undefined ? undefined : loadIntoFor(options.loadInto, source);
    if (options.loadInto !== undefined && loadInto === undefined) {
      fail('not loaded: --load-into does not name this source; file kept', true);
      continue;
    }
    const untrusted = untrustedDumpFolder(dirname(group[0].path));
    if (untrusted !== undefined) {
      fail(`not loaded: ${untrusted}; file kept`);
      continue;
    }
    const changed = await changedDumps(group);
    if (changed !== undefined) {
      fail(`not loaded: ${changed}; file kept`);
      continue;
    }
    if (isDatabaseSource(source)) {
      const fileNamed = (name: string): string | undefined => group.find((dump) => basename(dump.path) === name)?.path;
      try {
        const { notApplied, warnings } = await loadDatabaseDump(source,
          { schema: fileNamed(SCHEMA_FILE_NAME), data: fileNamed(DATA_FILE_NAME), triggers: fileNamed(TRIGGERS_FILE_NAME),
            routines: fileNamed(ROUTINES_FILE_NAME) },
          { loadInto, workDirectory: options.workDirectory });
        for (const dump of group) await removeLoaded(dump.path);
        for (const dump of group) {
          const skipped = notApplied.find((item) => item.path === dump.path);
          const isWarned = warnings.length > 0 && basename(dump.path) === DATA_FILE_NAME;
          results.push({ sourceName, path: dump.path, ok: true, ...(skipped === undefined ? {} : { notApplied: skipped.reason }), ...(isWarned ? { warnings } : {}) });
        }
      } catch (error) {
        fail(errorMessage(error));
      }
      continue;
    }
    for (const dump of group) {
      if (options.signal?.aborted) {
        results.push({ sourceName, path: dump.path, ok: false, error: 'not loaded: stopped before its turn; file kept' });
        continue;
      }
      try {
        await loadOne(source, dump.path, dumpKindOf(source.name, options.partial), options.workDirectory);
        await removeLoaded(dump.path);
        results.push({ sourceName, path: dump.path, ok: true });
      } catch (error) {
        results.push({ sourceName, path: dump.path, ok: false, error: errorMessage(error) });
      }
    }
  }
  return results;
}

/**
 * Why the loaders may not work on the dump files of this folder by name, or undefined. They are read (by
 * the loader tools too, which take a path), then removed with their folder, by path, as root: someone who
 * could swap a folder on the way, or put entries in this one, would choose which file is loaded and which removed.
 * A folder that could not be checked (gone, unreadable, a symlink loop) is refused too: nothing says it is safe.
 */
function untrustedDumpFolder(folder: string): string | undefined {
  const untrusted = untrustedFolderReason(folder);
  return untrusted === undefined ? undefined : `the dump's folder: ${untrusted} (someone else could choose which file is loaded and removed)`;
}

/** The first of a load's files that is no longer the dump the restore wrote and checked, said in words; undefined: none. */
async function changedDumps(group: readonly RestoredDump[]): Promise<string | undefined> {
  for (const dump of group) {
    if (dump.written === undefined) continue;
    const change = await writtenDumpChange(dump.path, dump.written);
    if (change !== undefined) return `${dump.path} is not the dump this restore wrote and checked: ${change} (something wrote or renamed there since)`;
  }
  return undefined;
}

/** By path: the folder and every folder above it are root's alone (untrustedDumpFolder). */
async function removeLoaded(path: string): Promise<void> {
  await unlink(path);
  await rmdir(dirname(path)).catch(() => undefined); // only if that was the source's last file
}

/** 'partial' or 'whole' as recorded at dump time; 'as-configured' for a partial backup that did not record it. */
function dumpKindOf(sourceName: string, partial: LoadOptions['partial']): DumpKind {
  if (partial === undefined || partial === false) return 'whole';
  if (partial === true) return 'as-configured';
  return partial.has(sourceName) ? 'partial' : 'whole';
}

function loadOne(source: Exclude<DumpSource, { kind: 'postgresql' | 'mariadb' }>, path: string, kind: DumpKind, workDirectory: string | undefined): Promise<void> {
  switch (source.kind) {
    case 'command':
      return loadCommandDump(source, path, kind);
    case 'sqlite':
      return loadSqliteDump(source, path, workDirectory === undefined ? undefined : join(workDirectory, LOADS_FOLDER));
    case 'mongodb':
      return loadMongodbDump(source, path, kind);
  }
}

/**
 * Maps a restored path back to its source: <anything>/dumps/<source>/<name> where <source> is a
 * configured source and <name> a name that source's dumps take. Paths under this node's own
 * <workDirectory>/dumps are the usual case; any other folder named dumps is accepted too, so a
 * backup of another node (or made with another work folder) still loads.
 */
export function dumpSourceOfPath(config: StorageConfig, workDirectory: string, originalPath: string): string | undefined {
  const path = resolve(originalPath);
  const own = relative(resolve(workDirectory, DUMPS_FOLDER), path);
  const parts = own.startsWith('..') ? [] : own.split(sep);
  const sourceName = parts.length === 2 ? parts[0] : dumpFolderSourceOf(path);
  const source = config.sources.find((candidate) => candidate.name === sourceName);
  return source !== undefined && isDumpFileName(source, basename(path)) ? source.name : undefined;
}

/** The source a dump's path names by its folder (<anything>/dumps/<source>/<file>), whatever storage.conf says. */
export function dumpFolderSourceOf(originalPath: string): string | undefined {
  const path = resolve(originalPath);
  return basename(dirname(dirname(path))) === DUMPS_FOLDER ? basename(dirname(path)) : undefined;
}

/**
 * The name a dump no configured source claims goes to the loaders under, so they keep it and say so:
 * the source its path names (<anything>/dumps/<source>/<file>) when storage.conf has none of that
 * name, else a name that says the file is none of that source's dump files.
 */
export function unclaimedDumpSourceName(config: StorageConfig, originalPath: string): string {
  const path = resolve(originalPath);
  const named = dumpFolderSourceOf(path);
  if (named !== undefined && !config.sources.some((source) => source.name === named)) return named;
  return `${named ?? 'none'}: ${basename(path)} is none of its dump files`;
}
