// Walks the include folders depth-first in name order, applying exclude_regex to full paths.
// Yields every directory, file, symlink (and, with read_all_fifos, FIFO) once; other types are reported and skipped.
import { readlink } from 'node:fs/promises';
import { lstatSync, readdirSync } from 'node:fs';
import type { BigIntStats } from 'node:fs';
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

/** Entries stat'ed, then walked, at a time within one folder. */
const STAT_BATCH = 256;

type Stated = { readonly path: string; readonly stats: BigIntStats } | { readonly path: string; readonly error: unknown };

export async function* walk(options: WalkOptions): AsyncGenerator<EntryMeta> {
  const includes = [...new Set(options.includes)].filter((path) => isWalked(path, options));
  for (const stated of await statAll(includes)) yield* walkStated(stated, options);
}

function isWalked(path: string, options: WalkOptions): boolean {
  return !options.skipPaths.has(path) && !options.excludeRegex.some((regex) => regex.test(path));
}

/**
 * Synchronous lstat: on a local disk with a warm cache it takes a few microseconds, while an
 * asynchronous one costs several times that in thread-pool hand-offs, and a no-change backup is
 * mostly stat calls. The walk is the client's only work at that point, so blocking costs nothing.
 */
async function statAll(paths: readonly string[]): Promise<Stated[]> {
  return paths.map((path): Stated => {
    try {
      return { path, stats: lstatSync(path, { bigint: true }) };
    } catch (error) {
      return { path, error };
    }
  });
}

async function* walkStated(stated: Stated, options: WalkOptions): AsyncGenerator<EntryMeta> {
  const { path } = stated;
  if ('error' in stated) {
    options.onWarning(`${path}: ${describe(stated.error)} (skipped)`);
    return;
  }
  const { stats } = stated;
  if (stats.isDirectory()) {
    yield entryMetaFromStats(path, EntryType.ENTRY_TYPE_DIRECTORY, stats);
    let names: string[];
    try {
      // Synchronous for the same reason as lstat (statAll): asynchronous listing cost a thread-pool
      // round trip per 32 names, and the walk left the client idle half of a no-change backup.
      names = readdirSync(path);
    } catch (error) {
      options.onWarning(`${path}: cannot list (${describe(error)}); its content is skipped`);
      return;
    }
    names.sort();
    const children = names.map((name) => (path === '/' ? `/${name}` : join(path, name))).filter((child) => isWalked(child, options));
    for (let start = 0; start < children.length; start += STAT_BATCH) {
      for (const child of await statAll(children.slice(start, start + STAT_BATCH))) yield* walkStated(child, options);
    }
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
