// Where a restored file's bytes go as they arrive, each run at the position its ExtentCursor gives: a
// temporary file, a comparison with the file already there (existing-content-compare.ts), or nowhere
// when the policy keeps what is there whatever arrives (the bytes are still received and hash-checked).
import { ftruncateSync } from 'node:fs';
import type { EntryMeta } from '../proto/cpsbackup';
import type { TempFile } from './restore-tree/temp-file';
import { writeAll, writeAllAsync } from './extent-cursor';

export interface ContentSink {
  /** Runs come in ascending positions; a sync sink returns nothing, so small files cost no await per run. */
  place(data: Buffer, position: number): void | Promise<void>;
  /** After the last run. */
  end(): void | Promise<void>;
}

/** isInline: a small file, written synchronously (its chunks were decoded ahead on a worker thread). */
export function tempFileSink(temp: TempFile, meta: EntryMeta, isInline: boolean): ContentSink {
  return {
    place: isInline ? (data, position) => writeAll(temp.fd, data, position) : (data, position) => writeAllAsync(temp.fd, data, position),
    // A sparse file's trailing hole is its size, set without writing it.
    end: () => { if (meta.extents.length > 0) ftruncateSync(temp.fd, meta.size); },
  };
}

export const DISCARDED: ContentSink = { place: () => undefined, end: () => undefined };
