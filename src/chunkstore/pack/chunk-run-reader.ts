// Reads a known list of chunks (a restore page's small files) with one read per run of records
// that lie back to back in a pack, the next run read while the current one is decoded: small
// files' chunks were written in sequence, and a read per chunk cost more than the bytes.
import type { PackBackend } from '../backend/pack-backend';
import type { ChunkLocation } from '../catalog/records';
import type { ChunkCodec } from '../codec';
import { CorruptError, NotFoundError } from '../../common/errors';
import { checkRecord, chunkWhere, readChunk, readRecord, unframeRecord, verifyRecord, type StoredRecord } from './pack-reader';
import { PLAIN_FRAMING, type RecordFraming } from './record-framing';

/** A run is read whole; bigger records get a run of their own. */
const MAX_RUN_BYTES = 4 * 1024 * 1024;

interface Run {
  readonly packName: string;
  readonly offset: number;
  length: number;
}

/** A run's bytes, or why they cannot be had (a missing or truncated pack: damage, reported per chunk). */
type RunBytes = Buffer | { readonly damage: string; readonly isTruncated: boolean };

export class ChunkRunReader {
  private readonly runs: Run[] = [];
  /** Run index of each location. */
  private readonly runOf: number[] = [];
  private readonly reads = new Map<number, Promise<RunBytes>>();

  constructor(
    private readonly backend: PackBackend,
    private readonly locations: readonly ChunkLocation[],
    private readonly codec: ChunkCodec,
    private readonly framing: RecordFraming = PLAIN_FRAMING,
  ) {
    for (const location of locations) {
      const size = framing.overhead + location.storedSize;
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
    const record = await this.recordBytesAt(index);
    return record === undefined ? readChunk(this.backend, location, this.codec, into, this.framing) : verifyRecord(record, location, this.codec, into);
  }

  /** The chunk at `index` as stored (header checked, not decoded): for a client that decodes and verifies it itself. */
  async storedAt(index: number): Promise<StoredRecord> {
    const location = this.locations[index];
    const record = await this.recordBytesAt(index);
    return checkRecord(record ?? await readRecord(this.backend, location, this.framing), location);
  }

  /** The record's header and payload from its run; undefined when its pack is truncated (the record is then read alone, to tell). */
  private async recordBytesAt(index: number): Promise<Buffer | undefined> {
    const location = this.locations[index];
    const runIndex = this.runOf[index];
    for (const earlier of this.reads.keys()) if (earlier < runIndex) this.reads.delete(earlier);
    const bytes = this.read(runIndex);
    if (runIndex + 1 < this.runs.length) this.read(runIndex + 1).catch(() => undefined); // awaited when its turn comes
    const run = await bytes;
    // A truncated pack damages only the records past its end: read this one alone to know.
    if ('damage' in run) {
      if (run.isTruncated) return undefined;
      throw new CorruptError(`${chunkWhere(location)}: ${run.damage}`);
    }
    const start = location.offset - this.runs[runIndex].offset;
    return unframeRecord(this.framing, location, run.subarray(start, start + this.framing.overhead + location.storedSize));
  }

  private read(runIndex: number): Promise<RunBytes> {
    let pending = this.reads.get(runIndex);
    if (pending === undefined) {
      const run = this.runs[runIndex];
      pending = this.backend.readRange(run.packName, run.offset, run.length).catch((error: unknown): RunBytes => {
        if (error instanceof NotFoundError) return { damage: 'pack is missing', isTruncated: false };
        if (error instanceof CorruptError) return { damage: error.message, isTruncated: true };
        throw error;
      });
      this.reads.set(runIndex, pending);
    }
    return pending;
  }
}
