// Reads a known list of chunks (a restore page's small files) with one read per run of records
// that lie back to back in a pack, the next run read while the current one is decoded: small
// files' chunks were written in sequence, and a read per chunk cost more than the bytes.
import type { ChunkLocation } from '../catalog/records';
import type { ChunkCodec } from '../codec';
import { CorruptError } from '../../common/errors';
import { RECORD_HEADER_SIZE } from './pack-format';
import { packPath } from './pack-files';
import type { PackHandles } from './pack-handles';
import { chunkWhere, verifyRecord } from './pack-reader';

/** A run is read whole; bigger records get a run of their own. */
const MAX_RUN_BYTES = 4 * 1024 * 1024;

interface Run {
  readonly packName: string;
  readonly offset: number;
  length: number;
}

/** A run's bytes (shorter than asked when the pack ended early), or the pack is gone. */
type RunBytes = Buffer | 'missing';

export class ChunkRunReader {
  private readonly runs: Run[] = [];
  /** Run index of each location. */
  private readonly runOf: number[] = [];
  private readonly reads = new Map<number, Promise<RunBytes>>();

  constructor(
    private readonly storeDirectory: string,
    private readonly locations: readonly ChunkLocation[],
    private readonly codec: ChunkCodec,
    private readonly handles: PackHandles,
  ) {
    for (const location of locations) {
      const size = RECORD_HEADER_SIZE + location.storedSize;
      const last = this.runs[this.runs.length - 1];
      if (last && last.packName === location.packName && last.offset + last.length === location.offset && last.length + size <= MAX_RUN_BYTES) {
        last.length += size;
      } else {
        this.runs.push({ packName: location.packName, offset: location.offset, length: size });
      }
      this.runOf.push(this.runs.length - 1);
    }
  }

  /**
   * The chunk at `index` in the list, decoded and verified (CorruptError naming pack and offset
   * otherwise), into `into` when given. Asked for in ascending order: runs before the asked one are let go.
   */
  async chunkAt(index: number, into?: Buffer): Promise<Buffer> {
    const location = this.locations[index];
    const runIndex = this.runOf[index];
    for (const earlier of this.reads.keys()) if (earlier < runIndex) this.reads.delete(earlier);
    const bytes = this.read(runIndex);
    if (runIndex + 1 < this.runs.length) this.read(runIndex + 1).catch(() => undefined); // awaited when its turn comes
    const run = await bytes;
    if (run === 'missing') throw new CorruptError(`${chunkWhere(location)}: pack file is missing`);
    const start = location.offset - this.runs[runIndex].offset;
    return verifyRecord(run.subarray(Math.min(start, run.length), Math.min(start + RECORD_HEADER_SIZE + location.storedSize, run.length)), location, this.codec, into);
  }

  private read(runIndex: number): Promise<RunBytes> {
    let pending = this.reads.get(runIndex);
    if (pending === undefined) {
      pending = this.readRun(this.runs[runIndex]);
      this.reads.set(runIndex, pending);
    }
    return pending;
  }

  private async readRun(run: Run): Promise<RunBytes> {
    let handle;
    try {
      handle = await this.handles.get(packPath(this.storeDirectory, run.packName));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
      throw error;
    }
    const buffer = Buffer.allocUnsafe(run.length);
    let filled = 0;
    while (filled < run.length) {
      const { bytesRead } = await handle.read(buffer, filled, run.length - filled, run.offset + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return buffer.subarray(0, filled);
  }
}
