// Writes a sparse file back: the data of each extent at its offset, nothing in the holes, then the
// file's size, so the restored file takes about the blocks the original took. Backpressure via Writable.
import { ftruncate, write } from 'node:fs';
import { Writable } from 'node:stream';
import type { DataExtent } from '../posix/data-extents';

function writeAt(fd: number, data: Buffer, position: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const next = (offset: number): void => {
      if (offset === data.length) return resolve();
      write(fd, data, offset, data.length - offset, position + offset, (error, written) => {
        if (error) reject(error);
        else next(offset + written);
      });
    };
    next(0);
  });
}

/** Throws RangeError when extents are unordered, overlapping, empty or beyond size. */
export function checkExtents(extents: readonly DataExtent[], size: number): void {
  let end = 0;
  for (const extent of extents) {
    if (!Number.isSafeInteger(extent.offset) || !Number.isSafeInteger(extent.length) || extent.length <= 0) {
      throw new RangeError(`bad extent ${extent.offset}+${extent.length}`);
    }
    if (extent.offset < end) throw new RangeError(`extent at ${extent.offset} overlaps or precedes the one ending at ${end}`);
    end = extent.offset + extent.length;
    if (end > size) throw new RangeError(`extent ${extent.offset}+${extent.length} ends beyond the size ${size}`);
  }
}

/**
 * A Writable taking the extents' data back to back (the bytes a backup read with dataExtents) and
 * writing each piece at its place in fd; on end it sets the size with ftruncate, which leaves the
 * holes unallocated. Fails when the bytes given are more or fewer than the extents hold. fd stays open.
 */
export function createExtentWriter(fd: number, extents: readonly DataExtent[], size: number): Writable {
  checkExtents(extents, size);
  let extentIndex = 0;
  let intoExtent = 0;
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      const pieces: { data: Buffer; position: number }[] = [];
      let consumed = 0;
      while (consumed < chunk.length) {
        const extent = extents[extentIndex];
        if (extent === undefined) {
          callback(new RangeError(`more data than the extents hold (${chunk.length - consumed} bytes too many)`));
          return;
        }
        const length = Math.min(extent.length - intoExtent, chunk.length - consumed);
        pieces.push({ data: chunk.subarray(consumed, consumed + length), position: extent.offset + intoExtent });
        consumed += length;
        intoExtent += length;
        if (intoExtent === extent.length) {
          extentIndex += 1;
          intoExtent = 0;
        }
      }
      pieces
        .reduce((previous, piece) => previous.then(() => writeAt(fd, piece.data, piece.position)), Promise.resolve())
        .then(() => callback(), callback);
    },
    final(callback) {
      if (extentIndex < extents.length) {
        const missing = extents.slice(extentIndex).reduce((total, extent) => total + extent.length, 0) - intoExtent;
        callback(new RangeError(`the data ended ${missing} bytes short of the extents`));
        return;
      }
      ftruncate(fd, size, (error) => callback(error));
    },
  });
}
