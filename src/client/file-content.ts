// Reads one file's content for a backup through an fd the walker opened: no more than the size seen
// at open (a file appended to while it is read cannot keep a backup going for ever), only the data
// of a sparse file (SEEK_DATA/SEEK_HOLE: a 4 GiB file holding 4 KiB is read as 4 KiB), and a check
// afterwards that the file did not change while it was read. A file cut shorter while it is read
// throws ShrankWhileReadError: what was read of it is neither what it was nor what it is.
import { closeSync, read, readSync } from 'node:fs';
import { promisify } from 'node:util';
import { statFd, type PosixStat } from './posix/at';
import { boundedExtents, dataExtents, extentsWithin, hasHoleBefore } from './posix/data-extents';
import { readXattrs, type Xattr } from './posix/xattrs';
import { readInodeFlags } from './posix/inode-flags';
import { unsizedContentOf } from './posix/unsized-content';
import { cleanMappedPages } from './posix/mapped-pages';
import { MAX_DATA_FRAME, PreparedData } from '../common/wire/fast-service';
import { MAX_EXTENTS } from '../common/entry-limits';

const readAsync = promisify(read);

/**
 * A file changed this recently before it was opened may change again within the same timestamp
 * tick (1-10 ms on kernels with coarse timestamps) after it is read, leaving size, mtime and ctime as
 * they were: git's "racy clean". One second covers any tick.
 */
const RACY_WINDOW_NS = 1_000_000_000n;

/**
 * A file cut shorter while it was read: its reads ended before the size seen at open. Stored, the
 * bytes read were the first part of what it was (a 400 MiB file truncated to 1,000 bytes 0.9 s into its
 * read was stored as 17 MiB of the old file, exit 0); a sparse one's entry declares the data extents
 * seen at open, which a shorter content cannot fill. The sender reads it once more (see EntrySender).
 */
export class ShrankWhileReadError extends Error {
  /** All that was read, when the whole content was read in one piece: a second read that gives the same is no shrink (see FileContent.shortened). */
  constructor(readonly wholeRead?: Buffer) {
    super('it shrank while it was read');
    this.name = 'ShrankWhileReadError';
  }
}

/**
 * A read or fstat of the file failed, whatever its errno: EIO of a failing disk, ETIMEDOUT of an NFS
 * soft mount, ENOTCONN of a dead sshfs, EINTR of FUSE, EINVAL of a sysfs attribute. That file is not
 * in the backup and the backup goes on; only a short list of codes was, and any other ended the whole
 * backup. Only errors of the file's own reads are wrapped: the upload's must still end the backup.
 */
export class FileReadError extends Error {
  constructor(readonly code: string, options: { cause: unknown }) {
    super(`the file cannot be read (${code})`, options);
    this.name = 'FileReadError';
  }
}

/**
 * Above this size every file's extents are asked for, whatever its blocks. Regression: a sparse file
 * whose blocks cover its size all the same (blocks preallocated past its end by fallocate --keep-size, an
 * xattr block, extent tree blocks) was read whole and came back without its holes. Asking cost 6-12 µs a
 * file here (fstat, SEEK_DATA and SEEK_HOLE through the addon: bench/hole-check-micro.ts), about what
 * opening and reading a small file costs, and it is a round trip on NFS 4.2: paid in full only where
 * reading the file costs far more (2-5 % of reading a 96 KiB one, before hashing it). A smaller file is
 * asked one lseek(SEEK_HOLE) first (the same bench), and walked only when that finds a hole: such a file
 * came back with its holes written as zeros.
 * Ranges preallocated but never written read as holes (SEEK_HOLE does not tell them apart), and come back
 * as holes, as they did already in a file with fewer blocks than its size.
 */
const ALWAYS_ASK_EXTENTS_ABOVE = 64 * 1024;

/** Whether a file may have holes: certainly when its blocks are fewer than its size needs, possibly when big. */
function mayHaveHoles(fd: number, stat: PosixStat): boolean {
  if (stat.blocks * 512 < stat.size || stat.size > ALWAYS_ASK_EXTENTS_ABOVE) return true;
  return stat.size > 0 && hasHoleBefore(fd, stat.size);
}

export class FileContent {
  /** Data extents as offset, length pairs; empty for a dense file, [size, 0] for one that is all hole. */
  readonly extents: number[];
  /** Bytes the content holds: the whole file, or the sparse file's data. */
  readonly dataBytes: number;
  /** The size to record: the size seen at open, or what a procfs file of size 0 read (unsized). */
  readonly contentSize: number;
  /** A procfs file's content, read whole at open (posix/unsized-content.ts). */
  private readonly unsized: Buffer | undefined;
  /**
   * A later write may not show in its stat: its ctime lies within RACY_WINDOW_NS of its opening, or its
   * pages could not be made clean before the read (cleanMappedPages: on tmpfs, a write through a mapping
   * never moves the ctime again).
   */
  readonly isRecentlyChanged: boolean;
  private readonly pieces: readonly { offset: number; length: number }[];
  private isClosed = false;
  /** Set when it read short of its size twice, the same bytes, unchanged: a file that says it holds more than it does. */
  private readsShortByNature = false;

  /** earlierShortRead: what a first read of the same open file gave when it ended short (see readAgain). */
  constructor(readonly fd: number, readonly statAtOpen: PosixStat, private readonly earlierShortRead?: Buffer) {
    // Before the read, after statAtOpen: a write through a mapping once the pages are clean faults and moves
    // the ctime (seen by hasChanged, and by the next backup's unchanged check). Regression: a database
    // file written through mmap after its read (within the ~30 s its pages stay dirty) kept size, mtime and
    // ctime, and every later backup carried the content read before, exit 0.
    // An empty file has no page to write through (a mapping's write past its end is SIGBUS).
    const isClean = statAtOpen.size === 0 || (statAtOpen.mode & 0o170000) !== 0o100000 || asFileReadError(() => cleanMappedPages(fd));
    this.isRecentlyChanged = !isClean || statAtOpen.ctimeNs >= BigInt(Date.now()) * 1_000_000n - RACY_WINDOW_NS;
    this.unsized = statAtOpen.size === 0 && (statAtOpen.mode & 0o170000) === 0o100000 ? asFileReadError(() => unsizedContentOf(fd)) : undefined;
    const size = this.unsized?.length ?? statAtOpen.size;
    this.contentSize = size;
    // Within the size declared: the file may have grown since statAtOpen. At most MAX_EXTENTS: a 10 GB
    // table punched every 16 KiB has 650,000, whose list alone was more than one message may carry,
    // and the whole backup failed. Past that the smallest holes are read (as zeros) and sent as data:
    // the restored content is exact, only those holes come back allocated.
    const extents = this.unsized === undefined && mayHaveHoles(fd, statAtOpen)
      ? boundedExtents(extentsWithin(dataExtents(fd), size), MAX_EXTENTS)
      : [{ offset: 0, length: size }];
    const isDense = extents.length === 1 && extents[0].offset === 0 && extents[0].length === size;
    this.pieces = isDense || size === 0 ? [{ offset: 0, length: size }] : extents;
    this.extents = isDense || size === 0 ? [] : extents.length === 0 ? [size, 0] : extents.flatMap((extent) => [extent.offset, extent.length]);
    this.dataBytes = this.pieces.reduce((sum, piece) => sum + piece.length, 0);
  }

  static open(fd: number): FileContent {
    try {
      return new FileContent(fd, statFd(fd));
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }

  /** The whole content in one buffer (small files): synchronous, a few microseconds for a cached file. */
  readWhole(): Buffer {
    if (this.unsized !== undefined) return this.unsized;
    const buffer = Buffer.allocUnsafe(this.dataBytes);
    let filled = 0;
    for (const piece of this.pieces) {
      let done = 0;
      while (done < piece.length) {
        const bytesRead = asFileReadError(() => readSync(this.fd, buffer, filled, piece.length - done, piece.offset + done));
        if (bytesRead === 0) return this.shortened(buffer.subarray(0, filled), true);
        done += bytesRead;
        filled += bytesRead;
      }
    }
    return buffer;
  }

  /** The content as Data frames of at most MAX_DATA_FRAME bytes, each read straight into its message. */
  async *frames(): AsyncGenerator<PreparedData | Buffer> {
    if (this.unsized !== undefined) {
      for (let offset = 0; offset < this.unsized.length; offset += MAX_DATA_FRAME) yield this.unsized.subarray(offset, offset + MAX_DATA_FRAME);
      return;
    }
    for (const piece of this.pieces) {
      let done = 0;
      while (done < piece.length) {
        const frame = new PreparedData(Math.min(piece.length - done, MAX_DATA_FRAME));
        const filled = await fill(this.fd, frame.chunk, piece.offset + done);
        if (filled < frame.chunk.length) {
          const rest = this.shortened(frame.chunk.subarray(0, filled), false);
          if (rest.length > 0) yield rest;
          return;
        }
        yield frame;
        done += filled;
      }
    }
  }

  /**
   * The reads ended before the size seen at open: the file was cut shorter while it was read, or it is
   * one that says it holds more than it reads (a sysfs attribute says 4096 bytes). The stat alone cannot
   * tell them apart (a file cut and grown back within one timestamp tick looks unchanged), so a first
   * read always throws; a second read of the same open file (readAgain) that gives the same bytes, its
   * stat unchanged, is such a file, and stored as read. `isWhole`: `content` is all that was read.
   */
  private shortened(content: Buffer, isWhole: boolean): Buffer {
    if (isWhole && this.extents.length === 0 && this.earlierShortRead?.equals(content) === true && !this.hasChanged()) {
      this.readsShortByNature = true;
      return content;
    }
    throw new ShrankWhileReadError(isWhole ? Buffer.from(content) : undefined);
  }

  /** Whether the content read was short of the size seen at open by the file's nature, not by a change (see shortened). */
  get isShortByNature(): boolean {
    return this.readsShortByNature;
  }

  /**
   * The same open file described anew (its size, extents and times now), for a second read of a file
   * that shrank while it was read (`shrank`: that read's error); this one hands its fd over and closes
   * nothing. Throws FileReadError when the file cannot be described (its extents' lseek fails: ENXIO
   * of a file cut meanwhile), as a first open does.
   */
  readAgain(shrank: ShrankWhileReadError): FileContent {
    let again: FileContent;
    try {
      again = new FileContent(this.fd, statFd(this.fd), shrank.wholeRead);
    } catch (error) {
      throw fileReadErrorOr(error);
    }
    this.isClosed = true;
    return again;
  }

  /** Whether size, mtime or ctime moved since the file was opened (call after reading it). */
  hasChanged(): boolean {
    const now = asFileReadError(() => statFd(this.fd));
    return now.size !== this.statAtOpen.size || now.mtimeNs !== this.statAtOpen.mtimeNs || now.ctimeNs !== this.statAtOpen.ctimeNs;
  }

  /**
   * The attributes of the inode being read, through its fd: the walker's way (a name under the held
   * folder, through /proc/self/fd) cost 5.2 µs a file here, the fd 0.6.
   */
  readXattrs(): Xattr[] {
    return readXattrs({ fd: this.fd });
  }

  /** The kept inode flags (chattr's) of the inode being read, through its fd; 0 where the file system keeps none. */
  readInodeFlags(): number {
    return readInodeFlags(this.fd);
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    closeSync(this.fd);
  }
}

async function fill(fd: number, buffer: Buffer, position: number): Promise<number> {
  let filled = 0;
  while (filled < buffer.length) {
    let bytesRead: number;
    try {
      ({ bytesRead } = await readAsync(fd, buffer, filled, buffer.length - filled, position + filled));
    } catch (error) {
      throw fileReadErrorOr(error);
    }
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled;
}

function asFileReadError<T>(call: () => T): T {
  try {
    return call();
  } catch (error) {
    throw fileReadErrorOr(error);
  }
}

/** An errno as a FileReadError; anything else (Node's own ERR_ codes: a bug here) as it is. */
export function fileReadErrorOr(error: unknown): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  return typeof code === 'string' && !code.startsWith('ERR_') ? new FileReadError(code, { cause: error }) : error;
}
