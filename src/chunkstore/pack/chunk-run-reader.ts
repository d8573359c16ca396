// Reads a known list of chunks (a restore page's small files) with one read per run of records
// that lie back to back in a pack, the next run read while the current one is decoded: small
// files' chunks were written in sequence, and a read per chunk cost more than the bytes.
import type { PackBackend } from '../backend/pack-backend';
import { readOpenedRange } from '../backend/read-opened-range';
import type { ChunkLocation } from '../catalog/records';
import type { ChunkCodec } from '../codec';
import { CorruptError, NotFoundError } from '../../common/errors';
import { chunkWhere, readChunk, readRecord, unframeRecord, verifyRecord, verifyStoredRecord, type StoredRecord } from './pack-reader';
import { PLAIN_FRAMING, type RecordFraming } from './record-framing';

/** A run is read whole; bigger records get a run of their own. */
const MAX_RUN_BYTES = 4 * 1024 * 1024;

interface Run {
  readonly packName: string;
  readonly offset: number;
  length: number;
  /** Its records: the locations from firstIndex on, `count` of them. */
  readonly firstIndex: number;
  count: number;
}

/**
 * A run's records, opened (header and payload each), or why they cannot be had: a missing pack, or damage
 * (a truncated pack, a record that does not open) that only a read of each record alone pins on its chunks.
 */
type RunRecords = readonly Buffer[] | { readonly damage: string; readonly isReadAlone: boolean };

export class ChunkRunReader {
  private readonly runs: Run[] = [];
  /** Run index of each location. */
  private readonly runOf: number[] = [];
  private readonly reads = new Map<number, Promise<RunRecords>>();
  /** The runs of `reads` whose read has ended, for storedAtIfRead. */
  private readonly settled = new Map<number, RunRecords>();

  constructor(
    private readonly backend: PackBackend,
    private readonly locations: readonly ChunkLocation[],
    private readonly codec: ChunkCodec,
    private readonly framing: RecordFraming = PLAIN_FRAMING,
  ) {
    locations.forEach((location, index) => {
      const size = framing.overhead + location.storedSize;
      const last = this.runs[this.runs.length - 1];
      if (last && last.packName === location.packName && last.offset + last.length === location.offset && last.length + size <= MAX_RUN_BYTES) {
        last.length += size;
        last.count += 1;
      } else {
        this.runs.push({ packName: location.packName, offset: location.offset, length: size, firstIndex: index, count: 1 });
      }
      this.runOf.push(this.runs.length - 1);
    });
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

  /** The chunk at `index` as stored, verified (verifyStoredRecord): for a client that decodes and verifies it again itself. */
  async storedAt(index: number): Promise<StoredRecord> {
    const location = this.locations[index];
    const record = await this.recordBytesAt(index);
    return verifyStoredRecord(record ?? await readRecord(this.backend, location, this.framing), location, this.codec);
  }

  /**
   * As storedAt, without a turn of the event loop, where the chunk's run is read already and whole; undefined
   * where it is not, or where the record does not verify (storedAt then reads it and tells what is wrong).
   * A restore page's small files lie in a few runs: a promise chain per file held the server 8 µs a file.
   */
  storedAtIfRead(index: number): StoredRecord | undefined {
    const runIndex = this.runOf[index];
    const run = this.settled.get(runIndex);
    if (run === undefined || 'damage' in run) return undefined;
    this.moveTo(runIndex);
    try {
      return verifyStoredRecord(run[index - this.runs[runIndex].firstIndex], this.locations[index], this.codec);
    } catch {
      return undefined;
    }
  }

  /** Lets go of the runs before runIndex and starts reading the one after it. */
  private moveTo(runIndex: number): void {
    for (const earlier of this.reads.keys()) {
      if (earlier >= runIndex) continue;
      this.reads.delete(earlier);
      this.settled.delete(earlier);
    }
    if (runIndex + 1 < this.runs.length) this.read(runIndex + 1).catch(() => undefined); // awaited when its turn comes
  }

  /** The record's header and payload from its run; undefined when its run is damaged (the record is then read alone, to tell). */
  private async recordBytesAt(index: number): Promise<Buffer | undefined> {
    const location = this.locations[index];
    const runIndex = this.runOf[index];
    const records = this.read(runIndex);
    this.moveTo(runIndex);
    const run = await records;
    if ('damage' in run) {
      if (run.isReadAlone) return undefined;
      throw new CorruptError(`${chunkWhere(location)}: ${run.damage}`);
    }
    return run[index - this.runs[runIndex].firstIndex];
  }

  private read(runIndex: number): Promise<RunRecords> {
    let pending = this.reads.get(runIndex);
    if (pending === undefined) {
      const run = this.runs[runIndex];
      // Every record opened before the run counts as read: a read cache keeps only runs whose records all opened.
      pending = readOpenedRange(this.backend, run.packName, run.offset, run.length, (bytes) => this.openRun(run, bytes)).catch((error: unknown): RunRecords => {
        if (error instanceof NotFoundError) return { damage: 'pack is missing', isReadAlone: false };
        // A truncated pack or a damaged record spoils only some records: each read alone tells which.
        if (error instanceof CorruptError) return { damage: error.message, isReadAlone: true };
        throw error;
      });
      this.reads.set(runIndex, pending);
      const read = pending;
      read.then((records) => {
        if (this.reads.get(runIndex) === read) this.settled.set(runIndex, records);
      }, () => undefined);
    }
    return pending;
  }

  private openRun(run: Run, bytes: Buffer): Buffer[] {
    const records: Buffer[] = [];
    for (let index = run.firstIndex; index < run.firstIndex + run.count; index++) {
      const location = this.locations[index];
      const start = location.offset - run.offset;
      records.push(unframeRecord(this.framing, location, bytes.subarray(start, start + this.framing.overhead + location.storedSize)));
    }
    return records;
  }
}
