// After a restore, re-injects each restored dump file with its source's loader, in order, and
// deletes the file once loaded; a failed load keeps the file and reports the loader's stderr.
import { rmdir, unlink } from 'node:fs/promises';
import { basename, dirname, relative, resolve, sep } from 'node:path';
import { errorMessage } from '../../common/errors';
import { loadCommandDump } from './command-loader';
import { DUMPS_FOLDER, isDumpFileName } from './dump-names';
import { loadMongodbDump } from './mongodb-loader';
import { loadSqliteDump } from './sqlite-loader';
import type { DumpSource, StorageConfig } from './storage-config';

/** Where a dump file was restored. */
export interface RestoredDump {
  readonly path: string;
  readonly sourceName: string;
}

export interface LoadResult {
  readonly sourceName: string;
  readonly path: string;
  readonly ok: boolean;
  readonly error?: string;
}

/**
 * Runs each source's loader on its restored files in order; deletes a file after its load
 * succeeded; keeps it and reports stderr on failure. One failure does not stop the others.
 * `partial`: the backup holds partial dumps, so sources with a partial loader use it.
 */
export async function loadRestoredDumps(
  config: StorageConfig,
  dumps: readonly RestoredDump[],
  options: { partial?: boolean } = {},
): Promise<LoadResult[]> {
  const results: LoadResult[] = [];
  for (const dump of dumps) {
    const source = config.sources.find((candidate) => candidate.name === dump.sourceName);
    if (source === undefined) {
      results.push({ sourceName: dump.sourceName, path: dump.path, ok: false, error: `no source "${dump.sourceName}" in ${config.file}; file kept` });
      continue;
    }
    try {
      await loadOne(source, dump.path, options.partial === true);
      await unlink(dump.path);
      await rmdir(dirname(dump.path)).catch(() => undefined); // only if that was the source's last file
      results.push({ sourceName: source.name, path: dump.path, ok: true });
    } catch (error) {
      results.push({ sourceName: source.name, path: dump.path, ok: false, error: errorMessage(error) });
    }
  }
  return results;
}

function loadOne(source: DumpSource, path: string, isPartial: boolean): Promise<void> {
  switch (source.kind) {
    case 'command':
      return loadCommandDump(source, path, isPartial);
    case 'sqlite':
      return loadSqliteDump(source, path);
    case 'mongodb':
      return loadMongodbDump(source, path, isPartial);
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
  const sourceName = parts.length === 2 ? parts[0] : basename(dirname(dirname(path))) === DUMPS_FOLDER ? basename(dirname(path)) : undefined;
  const source = config.sources.find((candidate) => candidate.name === sourceName);
  return source !== undefined && isDumpFileName(source, basename(path)) ? source.name : undefined;
}
