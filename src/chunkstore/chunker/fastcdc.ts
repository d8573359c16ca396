// FastCDC (Xia et al., USENIX ATC 2016): gear-hash content-defined chunking; the byte loop is native.
// Normalized chunking (level 2): a stricter mask before avgSize, a looser one after, sizes cluster near avg.

import type { Chunker, ChunkerFactory, ChunkerParams } from './chunker';
import { GEAR_TABLE } from './gear';
import { PendingBytes } from './pending';
// The project's one native addon; its loader lives with the POSIX calls that were its first use.
import { posixAddon } from '../../client/posix/addon';

/** Bits moved between the two masks; the paper finds level 2 a good trade of dedup for size spread. */
const NORMALIZATION_LEVEL = 2;

/**
 * A mask of the `bitCount` highest bits of the 32-bit hash. High bits depend on the last 32
 * bytes, low bits only on the last few, so high bits give a real sliding window.
 */
export function highBitsMask(bitCount: number): number {
  return bitCount <= 0 ? 0 : (~0 << (32 - bitCount)) | 0;
}

/** log2 of avgSize, rounded: the number of hash bits that must be zero for an average-size cut. */
export function averageBits(avgSize: number): number {
  return Math.round(Math.log2(avgSize));
}

/**
 * Rolls the gear hash over data[from..end) starting from hashState[0]; returns the index just
 * after the first byte where (hash & mask) is 0, or -1. Leaves the hash in hashState[0].
 * Native (native/gear.c): the loop in V8 was a tenth of a client's CPU in a first backup.
 */
type FindCut = (data: Buffer, from: number, end: number, mask: number, hashState: Int32Array, gear: Readonly<Int32Array>) => number;

class FastCdcChunker implements Chunker {
  private readonly pending = new PendingBytes();
  /** Gear hash of the current chunk so far, carried across push() calls; 0 at each chunk start. */
  private readonly hashState = new Int32Array(1);

  constructor(
    private readonly minSize: number,
    private readonly avgSize: number,
    private readonly maxSize: number,
    private readonly strictMask: number,
    private readonly looseMask: number,
    private readonly findCut: FindCut,
  ) {}

  push(data: Buffer): Buffer[] {
    const chunks: Buffer[] = [];
    const length = data.length;
    const hashState = this.hashState;
    // Where the current chunk starts, in `data` coordinates: negative when it began in an earlier push.
    let chunkStart = -this.pending.length;
    let index = 0;
    for (;;) {
      // The first minSize bytes of a chunk can never hold a cut: skip them without hashing.
      const hashStart = chunkStart + this.minSize;
      if (index < hashStart) index = hashStart;
      if (index >= length) break;
      const normalEnd = chunkStart + this.avgSize;
      const maxEnd = chunkStart + this.maxSize;
      let cut = -1;
      if (index < normalEnd) {
        const end = Math.min(normalEnd, length);
        cut = this.findCut(data, index, end, this.strictMask, hashState, GEAR_TABLE);
        if (cut < 0) index = end;
      }
      if (cut < 0 && index >= normalEnd) {
        const end = Math.min(maxEnd, length);
        cut = this.findCut(data, index, end, this.looseMask, hashState, GEAR_TABLE);
        if (cut < 0) {
          index = end;
          if (end === maxEnd) cut = maxEnd;
        }
      }
      if (cut < 0) break;
      chunks.push(chunkStart < 0 ? this.pending.takeWith(data, cut) : data.subarray(chunkStart, cut));
      chunkStart = cut;
      index = cut;
      hashState[0] = 0;
    }
    this.pending.keepTail(data, Math.max(chunkStart, 0));
    return chunks;
  }

  finish(): Buffer[] {
    const last = this.pending.takeWith(Buffer.alloc(0), 0);
    this.hashState[0] = 0;
    return last.length > 0 ? [last] : [];
  }
}

/** Makes FastCDC chunkers; params must already be validated (see params.ts). */
export function createFastCdcFactory(params: ChunkerParams): ChunkerFactory {
  const bits = averageBits(params.avgSize);
  const strictMask = highBitsMask(bits + NORMALIZATION_LEVEL);
  const looseMask = highBitsMask(bits - NORMALIZATION_LEVEL);
  const findCut = posixAddon().gearFindCut;
  return {
    params,
    create: () => new FastCdcChunker(params.minSize, params.avgSize, params.maxSize, strictMask, looseMask, findCut),
  };
}
