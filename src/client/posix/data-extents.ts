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

/** Bytes of data the extents hold (the rest of the size is holes). */
export function extentBytes(extents: readonly DataExtent[]): number {
  return extents.reduce((total, extent) => total + extent.length, 0);
}
