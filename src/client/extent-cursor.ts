// Where a restored file's bytes go, and the writes that put them there: back to back for a dense
// file, at its data extents for a sparse one (the holes between are left unwritten).
import { write, writeSync } from 'node:fs';
import { promisify } from 'node:util';
import type { EntryMeta } from '../proto/cpsbackup';
import { CorruptError } from '../common/errors';

const writeAsync = promisify(write);

/** Where each piece of a content goes: back to back for a dense file, at its extents for a sparse one. */
export class ExtentCursor {
  private readonly extents: { offset: number; length: number }[] = [];
  private index = 0;
  private within = 0;
  private position = 0;

  constructor(meta: EntryMeta) {
    for (let at = 0; at < meta.extents.length; at += 2) {
      if (meta.extents[at + 1] > 0) this.extents.push({ offset: meta.extents[at], length: meta.extents[at + 1] });
    }
    if (meta.extents.length === 0) this.extents.push({ offset: 0, length: Number.MAX_SAFE_INTEGER });
  }

  place(chunk: Buffer): { data: Buffer; position: number }[] {
    const placements: { data: Buffer; position: number }[] = [];
    let consumed = 0;
    while (consumed < chunk.length) {
      const extent = this.extents[this.index];
      if (extent === undefined) throw new CorruptError(`more data than the file's extents hold`);
      const length = Math.min(extent.length - this.within, chunk.length - consumed);
      placements.push({ data: chunk.subarray(consumed, consumed + length), position: extent.offset + this.within });
      consumed += length;
      this.within += length;
      this.position += length;
      if (this.within === extent.length) {
        this.index++;
        this.within = 0;
      }
    }
    return placements;
  }
}

export function writeAll(fd: number, data: Buffer, position: number): void {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done, data.length - done, position + done);
}

export async function writeAllAsync(fd: number, data: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) done += (await writeAsync(fd, data, done, data.length - done, position + done)).bytesWritten;
}
