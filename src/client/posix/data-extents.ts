// Where a file's data is, by lseek(SEEK_DATA/SEEK_HOLE): a backup reads only these ranges of a sparse
// file, a restore writes only them. A filesystem without hole support reports one extent for the file.
import { posixAddon } from './addon';

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

/** Bytes of data the extents hold (the rest of the size is holes). */
export function extentBytes(extents: readonly DataExtent[]): number {
  return extents.reduce((total, extent) => total + extent.length, 0);
}
