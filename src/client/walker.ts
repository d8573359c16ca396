// Walks the include folders depth-first in name order, applying exclude_regex to full paths.
// Yields every directory, file, symlink (and, with read_all_fifos, FIFO) once; other types are reported and skipped.
import { lstat, opendir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { EntryType, type EntryMeta } from '../proto/cpsbackup';
import { entryMetaFromStats } from './entry-meta';

export interface WalkOptions {
  readonly includes: readonly string[];
  readonly excludeRegex: readonly RegExp[];
  readonly readAllFifos: boolean;
  /** Paths never walked (e.g. the dump work folder, sent separately). */
  readonly skipPaths: ReadonlySet<string>;
  readonly onWarning: (message: string) => void;
}

export async function* walk(options: WalkOptions): AsyncGenerator<EntryMeta> {
  const seen = new Set<string>();
  for (const include of options.includes) {
    if (seen.has(include)) continue;
    seen.add(include);
    yield* walkPath(include, options);
  }
}

async function* walkPath(path: string, options: WalkOptions): AsyncGenerator<EntryMeta> {
  if (options.skipPaths.has(path) || options.excludeRegex.some((regex) => regex.test(path))) return;
  let stats;
  try {
    stats = await lstat(path, { bigint: true });
  } catch (error) {
    options.onWarning(`${path}: ${describe(error)} (skipped)`);
    return;
  }
  if (stats.isDirectory()) {
    yield entryMetaFromStats(path, EntryType.ENTRY_TYPE_DIRECTORY, stats);
    let names: string[];
    try {
      const directory = await opendir(path);
      names = [];
      for await (const entry of directory) names.push(entry.name);
    } catch (error) {
      options.onWarning(`${path}: cannot list (${describe(error)}); its content is skipped`);
      return;
    }
    names.sort();
    for (const name of names) yield* walkPath(path === '/' ? `/${name}` : join(path, name), options);
  } else if (stats.isFile()) {
    yield entryMetaFromStats(path, EntryType.ENTRY_TYPE_FILE, stats);
  } else if (stats.isSymbolicLink()) {
    try {
      yield entryMetaFromStats(path, EntryType.ENTRY_TYPE_SYMLINK, stats, await readlink(path));
    } catch (error) {
      options.onWarning(`${path}: cannot read link (${describe(error)}); skipped`);
    }
  } else if (stats.isFIFO() && options.readAllFifos) {
    yield entryMetaFromStats(path, EntryType.ENTRY_TYPE_FIFO_CONTENT, stats);
  } else {
    options.onWarning(`${path}: ${stats.isFIFO() ? 'FIFO (read_all_fifos=0)' : 'special file'} skipped`);
  }
}

function describe(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? String(error);
}
