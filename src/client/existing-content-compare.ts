// Compares a restored file's content, as it arrives, with the regular file already in its place, so an
// identical file is never copied: a temporary copy beside it filled a nearly full disk, changed the
// live folder's mtime and, killed, stayed there. At the first difference the copy starts, if wanted.
import { ftruncateSync, read } from 'node:fs';
import { promisify } from 'node:util';
import type { EntryMeta } from '../proto/cpsbackup';
import type { TempFile } from './restore-tree/temp-file';
import { RestoreSystemError } from './restore-tree/errors';
import { writeAllAsync } from './extent-cursor';
import { writtenExtents, type DataExtent } from './posix/data-extents';
import { fileSystemTypeOf, statFd } from './posix/at';

const readAsync = promisify(read);
const BLOCK = 1024 * 1024;
const ZEROS = Buffer.alloc(BLOCK);

/**
 * File systems that keep a hole a hole and can tell written data from a range fallocate reserved
 * (writtenExtents): ext2/3/4, XFS, btrfs, F2FS, bcachefs by FIEMAP, tmpfs by SEEK_DATA. Elsewhere (FAT,
 * ZFS, many FUSE and network file systems) a restored sparse file may be all data, or the data a read
 * reserved may look written, and holes are compared as zeros only: judged there, every later restore
 * would see a difference.
 */
const HOLE_KEEPING: ReadonlySet<number> = new Set([0xef53, 0x58465342, 0x9123683e, 0xf2f52010, 0x01021994, 0xca451a4e]);

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
      if (await this.holds(this.comparedTo, size, undefined) && await this.isEndAt(size) && !(isSparse && this.hasDataInHoles())) this.comparedTo = size;
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

  /**
   * Whether the existing file has data where the backup has a hole (a hole filled with zeros reads the
   * same, but takes the space the backup's file did not), beyond the blocks the backup's data lies in.
   * Data where the backup has data is not judged: zeros kept as data may become holes on some file
   * systems (ZFS with compression), and the content is the same.
   */
  private hasDataInHoles(): boolean {
    let stats;
    try {
      if (!HOLE_KEEPING.has(fileSystemTypeOf(this.existingFd))) return false;
      stats = statFd(this.existingFd);
    } catch {
      return false;
    }
    const block = stats.blksize > 0 ? stats.blksize : 4096;
    let existing: DataExtent[] | undefined;
    try {
      existing = writtenExtents(this.existingFd);
    } catch (error) {
      throw new RestoreSystemError(this.describe.entryPath, this.describe.localPath(), 'find the data of the file at', error);
    }
    if (existing === undefined) return false;
    const covered = blocksOf(dataRangesBefore(this.meta, this.meta.size), block);
    return !isAllCovered(existing, covered);
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

/** The ranges widened to whole blocks and merged where they meet: what a file system allocates for them. */
function blocksOf(ranges: readonly { offset: number; length: number }[], block: number): DataExtent[] {
  const merged: { offset: number; length: number }[] = [];
  for (const range of ranges) {
    const start = Math.floor(range.offset / block) * block;
    const end = Math.ceil((range.offset + range.length) / block) * block;
    const last = merged[merged.length - 1];
    if (last !== undefined && start <= last.offset + last.length) last.length = Math.max(last.length, end - last.offset);
    else merged.push({ offset: start, length: end - start });
  }
  return merged;
}

/** Whether each of the ascending ranges lies within one of the ascending, merged ranges `within` (one pass). */
function isAllCovered(ranges: readonly DataExtent[], within: readonly DataExtent[]): boolean {
  let at = 0;
  for (const range of ranges) {
    while (at < within.length && within[at].offset + within[at].length <= range.offset) at++;
    const outer = within[at];
    if (outer === undefined || outer.offset > range.offset || range.offset + range.length > outer.offset + outer.length) return false;
  }
  return true;
}

function isAllZero(bytes: Buffer): boolean {
  return bytes.equals(ZEROS.subarray(0, bytes.length));
}
