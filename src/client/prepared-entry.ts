// Decides how an entry travels: unchanged (a reference), small and changed (read whole here, sent
// inline in a batch) or large (streamed later in Data frames).
import { closeSync, openSync, readSync } from 'node:fs';
import { EntryType, type EntryMeta } from '../proto/cpsbackup';
import { isUnchanged } from './entry-meta';

/** Files read whole and sent inline are at most this big; larger ones stream. */
export const INLINE_MAX_FILE = 1024 * 1024;

/** 'vanished': gone since the walk; 'grew': larger than INLINE_MAX_FILE allows, so it streams instead. */
export type SmallFileRead = Buffer | 'vanished' | 'grew';

export interface PreparedEntry {
  readonly meta: EntryMeta;
  readonly isUnchanged: boolean;
  readonly content: SmallFileRead | undefined;
}

export function prepareEntry(meta: EntryMeta, parent: EntryMeta | undefined): PreparedEntry {
  const unchanged = isUnchanged(meta, parent);
  const isSmallFile = meta.type === EntryType.ENTRY_TYPE_FILE && !unchanged && meta.size <= INLINE_MAX_FILE;
  const content = isSmallFile ? readSmallFile(meta.path, meta.size) : undefined;
  return { meta, isUnchanged: unchanged, content };
}

/**
 * Synchronous: a small cached file is read in a few microseconds, while the promise API's
 * FileHandle costs several times that on the main thread (open, read and close each a hand-off).
 */
function readSmallFile(path: string, expectedSize: number): SmallFileRead {
  let descriptor: number;
  try {
    descriptor = openSync(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'vanished';
    throw error;
  }
  try {
    // One byte more than expected tells a file that grew since the walk from one that did not.
    const buffer = Buffer.allocUnsafe(expectedSize + 1);
    let filled = 0;
    for (;;) {
      const bytesRead = readSync(descriptor, buffer, filled, buffer.length - filled, filled);
      if (bytesRead === 0) return buffer.subarray(0, filled);
      filled += bytesRead;
      if (filled === buffer.length) return 'grew';
    }
  } finally {
    closeSync(descriptor);
  }
}
