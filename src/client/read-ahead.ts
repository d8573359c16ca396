// Reads small changed files ahead, a few at a time, while earlier entries are being sent:
// for trees of many small files the disk round trips, not the bytes, set the pace.
import { open } from 'node:fs/promises';
import { EntryType, type EntryMeta } from '../proto/cpsbackup';
import { isUnchanged } from './entry-meta';

/** Files read whole in advance are at most this big; larger ones stream. */
export const READ_AHEAD_MAX_FILE = 1024 * 1024;
/** Entries prepared ahead of the one being sent (bounds memory to this × READ_AHEAD_MAX_FILE). */
export const READ_AHEAD_DEPTH = 8;

/** 'vanished': gone since the walk; 'grew': larger than read-ahead allows, so it streams instead. */
export type ReadAhead = Buffer | 'vanished' | 'grew';

export interface PreparedEntry {
  readonly meta: EntryMeta;
  readonly isUnchanged: boolean;
  readonly content: Promise<ReadAhead> | undefined;
}

export function prepareEntry(meta: EntryMeta, parent: EntryMeta | undefined): PreparedEntry {
  const unchanged = isUnchanged(meta, parent);
  const isSmallFile = meta.type === EntryType.ENTRY_TYPE_FILE && !unchanged && meta.size <= READ_AHEAD_MAX_FILE;
  const content = isSmallFile ? readSmallFile(meta.path, meta.size) : undefined;
  content?.catch(() => undefined); // awaited when its turn comes; this only avoids an early unhandled warning
  return { meta, isUnchanged: unchanged, content };
}

async function readSmallFile(path: string, expectedSize: number): Promise<ReadAhead> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'vanished';
    throw error;
  }
  try {
    // One byte more than expected tells a file that grew since the walk from one that did not.
    const buffer = Buffer.allocUnsafe(expectedSize + 1);
    let filled = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, filled);
      if (bytesRead === 0) return buffer.subarray(0, filled);
      filled += bytesRead;
      if (filled === buffer.length) return 'grew';
    }
  } finally {
    await handle.close();
  }
}
