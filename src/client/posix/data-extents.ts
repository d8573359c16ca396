// Where a file's data is, by lseek(SEEK_DATA/SEEK_HOLE): a backup reads only these ranges of a sparse
// file, a restore writes only them. A filesystem without hole support reports one extent for the file.
// Also the pure steps that shape the extents a backup entry declares: cut to its size, bounded in count.
import { posixAddon } from './addon';
import { fileSystemTypeOf } from './at';

/** TMPFS_MAGIC: tmpfs has no FIEMAP, and its SEEK_DATA calls a page fallocate reserved a hole, read or not. */
const TMPFS = 0x01021994;

export interface DataExtent {
  readonly offset: number;
  readonly length: number;
}

/** Ascending, non-overlapping extents of an open regular file; empty for an empty or all-hole file. */
export function dataExtents(fd: number): DataExtent[] {
  return posixAddon()
    .dataExtents(fd)
    .map(([offset, length]) => ({ offset, length }));
}

/**
 * The ranges of an open file that hold written data (zeros written count, a range fallocate reserved and
 * nobody wrote does not), or undefined where that cannot be told. By FIEMAP, not SEEK_DATA: once a read
 * has put a reserved range in the page cache, ext4 and XFS report it as data (journald's journals, a
 * database's preallocated files: every in-place restore of one looked changed; found by review).
 */
export function writtenExtents(fd: number): DataExtent[] | undefined {
  const mapped = posixAddon().writtenExtents(fd);
  if (mapped !== null) return mapped.map(([offset, length]) => ({ offset, length }));
  return fileSystemTypeOf(fd) === TMPFS ? dataExtents(fd) : undefined;
}

/**
 * Whether an open file has a hole before `size` (one lseek); false where the filesystem cannot tell,
 * and when the file is empty by now (ENXIO: cut by a copytruncate since its fstat; the read that
 * follows sees that, as dataExtents does, rather than leaving the file out as unreadable).
 */
export function hasHoleBefore(fd: number, size: number): boolean {
  try {
    const hole = posixAddon().firstHole(fd);
    return hole !== null && hole < size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENXIO') return false;
    throw error;
  }
}

/**
 * The extents within the first `size` bytes: those starting at or past it dropped, the last one cut at
 * it. The addon clamps to the size of its own fstat, later than the one a backup declares: a file
 * growing in between gave extents past the declared size, and the server refused the whole backup.
 */
export function extentsWithin(extents: readonly DataExtent[], size: number): DataExtent[] {
  const within: DataExtent[] = [];
  for (const extent of extents) {
    if (extent.offset >= size) break;
    within.push(extent.offset + extent.length > size ? { offset: extent.offset, length: size - extent.offset } : extent);
  }
  return within;
}

/**
 * The extents with the smallest holes between them filled, until at most `maxExtents` remain (all of
 * them when they are that few already). A filled hole becomes data: read, it gives zeros, which are
 * sent and stored (dedup makes them cheap) and restored as written zeros. The content stays exact;
 * only those small holes come back allocated. Of holes of equal size, the first ones are filled.
 */
export function boundedExtents(extents: readonly DataExtent[], maxExtents: number): readonly DataExtent[] {
  if (!(Number.isInteger(maxExtents) && maxExtents >= 1)) throw new RangeError(`at most ${maxExtents} extents: not a positive integer`);
  const toFill = extents.length - maxExtents;
  if (toFill <= 0) return extents;
  const holes = new Float64Array(extents.length - 1);
  for (let index = 1; index < extents.length; index++) {
    const previous = extents[index - 1];
    holes[index - 1] = extents[index].offset - (previous.offset + previous.length);
  }
  // The toFill-th smallest hole: every smaller one is filled, and as many of those equal to it as still needed.
  const largestFilled = holes.slice().sort()[toFill - 1];
  let equalToFill = toFill - holes.reduce((count, hole) => (hole < largestFilled ? count + 1 : count), 0);
  const bounded: DataExtent[] = [];
  let offset = extents[0].offset;
  let end = offset + extents[0].length;
  for (let index = 1; index < extents.length; index++) {
    const hole = holes[index - 1];
    const extent = extents[index];
    const isFilled = hole < largestFilled || (hole === largestFilled && equalToFill > 0);
    if (isFilled && hole === largestFilled) equalToFill--;
    if (!isFilled) {
      bounded.push({ offset, length: end - offset });
      offset = extent.offset;
    }
    end = extent.offset + extent.length;
  }
  bounded.push({ offset, length: end - offset });
  return bounded;
}

/** Bytes of data the extents hold (the rest of the size is holes). */
export function extentBytes(extents: readonly DataExtent[]): number {
  return extents.reduce((total, extent) => total + extent.length, 0);
}
