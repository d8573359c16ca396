// Compares a restored file's content, as it arrives, with the regular file already in its place, so an
// identical file is never copied: a temporary copy beside it filled a nearly full disk, changed the
// live folder's mtime and, killed, stayed there. At the first difference the copy starts, if wanted.
import { ftruncateSync, read } from 'node:fs';
import { promisify } from 'node:util';
import type { EntryMeta } from '../proto/cpsbackup';
import type { TempFile } from './restore-tree/temp-file';
import { RestoreSystemError } from './restore-tree/errors';
import { writeAllAsync } from './extent-cursor';

const readAsync = promisify(read);
const BLOCK = 1024 * 1024;
const ZEROS = Buffer.alloc(BLOCK);

export class ExistingContentCompare {
  /** Bytes before this equal the existing file's: the data placed, and the holes between as zeros. */
  private comparedTo = 0;
  private isDifferent = false;
  private temp: TempFile | undefined;
  private readonly buffer = Buffer.allocUnsafe(BLOCK);

  /**
   * existingFd: the file already there, open for reading (the caller closes it). startWriting: makes the
   * temporary file a difference is written to; undefined when the policy keeps a differing file anyway,
   * and the rest is then only received (still hash-checked by the caller), never written.
   */
  constructor(
    private readonly existingFd: number,
    private readonly meta: EntryMeta,
    private readonly startWriting: (() => TempFile) | undefined,
    private readonly describe: { readonly entryPath: Buffer; readonly localPath: () => string },
  ) {}

  /** After end(): whether the existing file holds exactly the content received, holes and size alike. */
  get isIdentical(): boolean {
    return !this.isDifferent;
  }

  /** The temporary file holding the content, made at the first difference; the caller commits or aborts it. */
  get written(): TempFile | undefined {
    return this.temp;
  }

  /** data: the next run of the content, at the position its ExtentCursor gives (ascending). */
  async place(data: Buffer, position: number): Promise<void> {
    if (!this.isDifferent) {
      if (await this.holds(this.comparedTo, position, undefined) && await this.holds(position, position + data.length, data)) {
        this.comparedTo = position + data.length;
        return;
      }
      await this.differ();
    }
    if (this.temp !== undefined) await writeAllAsync(this.temp.fd, data, position);
  }

  /** After the last run: a sparse file's trailing hole must read as zeros, and nothing may follow the content. */
  async end(): Promise<void> {
    const isSparse = this.meta.extents.length > 0;
    if (!this.isDifferent) {
      const size = isSparse ? Math.max(this.meta.size, this.comparedTo) : this.comparedTo;
      if (await this.holds(this.comparedTo, size, undefined) && await this.isEndAt(size)) this.comparedTo = size;
      else await this.differ();
    }
    if (this.temp !== undefined && isSparse) ftruncateSync(this.temp.fd, this.meta.size);
  }

  /** Whether the existing file holds expected (zeros when undefined) in [from, to). */
  private async holds(from: number, to: number, expected: Buffer | undefined): Promise<boolean> {
    for (let at = from; at < to;) {
      const wanted = Math.min(BLOCK, to - at);
      const bytesRead = await this.read(wanted, at);
      if (bytesRead === 0) return false; // the existing file is shorter
      const got = this.buffer.subarray(0, bytesRead);
      const isSame = expected === undefined ? isAllZero(got) : got.equals(expected.subarray(at - from, at - from + bytesRead));
      if (!isSame) return false;
      at += bytesRead;
    }
    return true;
  }

  private async isEndAt(position: number): Promise<boolean> {
    return await this.read(1, position) === 0;
  }

  private async read(length: number, position: number): Promise<number> {
    try {
      return (await readAsync(this.existingFd, this.buffer, 0, length, position)).bytesRead;
    } catch (error) {
      throw new RestoreSystemError(this.describe.entryPath, this.describe.localPath(), 'compare with the backup the file at', error);
    }
  }

  /**
   * The first difference: the content placed so far equals the existing file's there, so the temporary
   * file gets those bytes from it (its data ranges only: holes stay holes), then the rest as it comes.
   */
  private async differ(): Promise<void> {
    this.isDifferent = true;
    if (this.startWriting === undefined) return;
    this.temp = this.startWriting();
    for (const range of dataRangesBefore(this.meta, this.comparedTo)) {
      for (let at = range.offset; at < range.offset + range.length;) {
        const bytesRead = await this.read(Math.min(BLOCK, range.offset + range.length - at), at);
        if (bytesRead === 0) throw new RestoreSystemError(this.describe.entryPath, this.describe.localPath(), 'copy', new Error('the file was cut short while being read'));
        await writeAllAsync(this.temp.fd, this.buffer.subarray(0, bytesRead), at);
        at += bytesRead;
      }
    }
  }
}

/** The ranges of [0, end) the backup has as data: all of it for a dense file, its extents cut at end for a sparse one. */
function dataRangesBefore(meta: EntryMeta, end: number): { offset: number; length: number }[] {
  if (meta.extents.length === 0) return end > 0 ? [{ offset: 0, length: end }] : [];
  const ranges: { offset: number; length: number }[] = [];
  for (let at = 0; at < meta.extents.length; at += 2) {
    const offset = meta.extents[at];
    const length = Math.min(meta.extents[at + 1], end - offset);
    if (length > 0) ranges.push({ offset, length });
  }
  return ranges;
}

function isAllZero(bytes: Buffer): boolean {
  return bytes.equals(ZEROS.subarray(0, bytes.length));
}
