// Appends encoded chunks to staged pack files and hands each sealed pack to the backend. A pack
// is recorded in the catalog only once the backend holds it durably, so every catalog row points
// at bytes that survive a crash; append() says when its record is written and, later, its chunk id.
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { PackBackend } from '../backend/pack-backend';
import type { NewChunkRow } from '../catalog/records';
import { encodeRecordHeader, type Codec } from './pack-format';
import { PLAIN_FRAMING, type RecordFraming } from './record-framing';
import { newPackName } from './pack-files';
import { translateWriteError } from '../backend/write-errors';
import { StagingBudget, type StagingHolder } from './staging-budget';

export interface SealedPack {
  readonly name: string;
  readonly size: number;
  readonly records: readonly NewChunkRow[];
}

/** Records a stored pack in the catalog (one synchronous transaction); returns each record's chunk id. */
export type RecordSealedPack = (pack: SealedPack) => readonly number[];

export interface AppendedRecord {
  /** Settles once the record is in the staged file's buffers: what bounds a writer's memory. */
  readonly written: Promise<void>;
  /** Settles once the record's pack is stored and recorded (after sealCurrent() or a full pack). */
  readonly chunkId: Promise<number>;
  readonly storedSize: number;
}

interface Deferred {
  resolve(id: number): void;
  reject(error: unknown): void;
}

interface StagedPack {
  readonly name: string;
  readonly path: string;
  readonly handle: Promise<FileHandle>;
  /** Bytes appended, including those still gathered in `pending`. */
  size: number;
  /** Bytes actually in the file. */
  written: number;
  /** Bytes this pack holds in the staging budget (its size once every append got room). */
  reserved: number;
  readonly pending: Buffer[];
  readonly records: NewChunkRow[];
  readonly waiting: Deferred[];
}

export const DEFAULT_PACK_TARGET_SIZE = 64 * 1024 * 1024;
/** Gathered records are written once they reach this size: a write per small file cost a thread-pool round trip each. */
const WRITE_GATHER_SIZE = 1024 * 1024;
/**
 * Sealed packs being stored at once per writer; more wait. The staging folder as a whole is bounded by the
 * store's StagingBudget (s3_staging_max), shared by every writer and by catalog snapshots.
 */
const MAX_SEALS_IN_FLIGHT = 2;

export interface PackWriterOptions {
  readonly framing?: RecordFraming;
  /** A pack is sealed once it reaches this size (server.conf pack_size). */
  readonly targetSize?: number;
  /** The store-wide bound on staged bytes; default: unbounded. */
  readonly budget?: StagingBudget;
  /** Names each new pack; default newPackName (cover writes name theirs so that none is taken for a pack). */
  readonly packName?: () => string;
  /**
   * Called with a pack's name just before its put, and its put waits for it: the store records there that
   * the object may appear (pack_intents), so a start after a crash can tell its own leftovers from objects
   * a newer catalog wrote.
   */
  readonly beforePut?: (name: string) => void;
}

/**
 * A chunk id to come and its resolvers, made outside append's scope: a closure made there shares the
 * scope's context, payload included, and one left on this promise (its catch) kept every payload of a
 * pack, with the whole received message each is a view of, until the pack was stored (62 MiB of a
 * server's 240 in a first backup).
 */
function pendingChunkId(): { chunkId: Promise<number>; deferred: Deferred } {
  let deferred!: Deferred;
  const chunkId = new Promise<number>((resolve, reject) => { deferred = { resolve, reject }; });
  chunkId.catch(() => undefined); // a caller that only awaits `written` must not see an unhandled rejection
  return { chunkId, deferred };
}

export class PackWriter implements StagingHolder {
  private current: StagedPack | undefined;
  private readonly seals = new Set<Promise<void>>();
  private appendTail: Promise<unknown> = Promise.resolve();
  private failure: unknown;
  private isEnded = false;
  private readonly framing: RecordFraming;
  private readonly targetSize: number;
  private readonly budget: StagingBudget;
  private readonly packName: () => string;
  private readonly beforePut: ((name: string) => void) | undefined;

  constructor(
    private readonly stagingDirectory: string,
    private readonly backend: Pick<PackBackend, 'putPack'>,
    private readonly recordPack: RecordSealedPack,
    options: PackWriterOptions = {},
  ) {
    this.framing = options.framing ?? PLAIN_FRAMING;
    this.targetSize = options.targetSize ?? DEFAULT_PACK_TARGET_SIZE;
    this.budget = options.budget ?? new StagingBudget(undefined);
    this.packName = options.packName ?? newPackName;
    this.beforePut = options.beforePut;
  }

  /** Asked by the budget when every staged byte sits in open packs: seal ours after the append under way. */
  sealSoon(): void {
    const done = this.appendTail.then(() => (this.isEnded || this.failure !== undefined ? undefined : this.seal()));
    this.appendTail = done.catch(() => undefined);
    done.catch(() => undefined); // a failure is kept in this.failure and surfaces at the next append or seal
  }

  /** payloadHash: the SHA-256 of the payload (session/shared-payload.ts payloadHashOf), which the chunk's row keeps. */
  append(hash: Buffer, codec: Codec, rawSize: number, payload: Buffer, payloadHash: Buffer): AppendedRecord {
    const header = encodeRecordHeader({ codec, rawSize, storedSize: payload.length, hash });
    return this.appendRecord(header, payload, { hash, rawSize, storedSize: payload.length, payloadHash });
  }

  /** Appends a record whose header is already encoded (compaction copies records with it); framed here at its new offset. */
  appendRecord(header: Buffer, payload: Buffer, row: Omit<NewChunkRow, 'offset'>): AppendedRecord {
    const { chunkId, deferred } = pendingChunkId();
    // Appends run one after another: each needs the offset the previous one ends at.
    const written = this.appendTail.then(() => this.appendNow(header, payload, row, deferred));
    // The chain goes on after a failure (kept in this.failure), and the record's id never comes.
    this.appendTail = written.catch((error: unknown) => deferred.reject(error));
    return { written, chunkId, storedSize: payload.length };
  }

  private async appendNow(header: Buffer, payload: Buffer, row: Omit<NewChunkRow, 'offset'>, deferred: Deferred): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    if (this.isEnded) throw new Error('pack writer already ended: append refused');
    const recordSize = this.framing.overhead + payload.length;
    // Room first: a full staging folder holds this writer (and through it the client) until uploads free some.
    // Taken at once when there is room (nearly always): no promise or closure per record then.
    if (!this.budget.tryReserve(recordSize)) {
      await this.budget.reserve(recordSize, async () => {
        if (this.current === undefined || this.current.records.length === 0) return false;
        await this.seal();
        return true;
      });
    }
    if (this.failure !== undefined || this.isEnded) {
      this.budget.release(recordSize);
      throw this.failure ?? new Error('pack writer already ended: append refused');
    }
    const pack = this.current ?? this.startPack();
    pack.reserved += recordSize;
    pack.records.push({ ...row, offset: pack.size });
    pack.waiting.push(deferred);
    // Framed at the offset it lands on: a sealed record is bound to its pack and place.
    pack.pending.push(...this.framing.frame(pack.name, pack.size, header, payload));
    pack.size += recordSize;
    if (pack.size - pack.written >= WRITE_GATHER_SIZE) await this.writePending(pack);
    if (pack.size >= this.targetSize) await this.seal();
  }

  /** Seals the open pack (if any) and waits until every sealed pack is stored and recorded. */
  async sealCurrent(): Promise<void> {
    const done = this.appendTail.then(() => this.seal());
    this.appendTail = done.catch(() => undefined);
    await done;
    while (this.seals.size > 0) await Promise.all(this.seals);
    if (this.failure !== undefined) throw this.failure;
  }

  /**
   * Ends the writer: the open pack's staged file is removed without being stored (its chunks are
   * lost to this session, which is abandoning), and seals in flight are waited for.
   */
  async discard(): Promise<void> {
    this.isEnded = true;
    await this.appendTail;
    const pack = this.current;
    this.current = undefined;
    if (pack) {
      for (const waiting of pack.waiting) waiting.reject(new Error('backup abandoned before its pack was stored'));
      await pack.handle.then((handle) => handle.close(), () => undefined).catch(() => undefined);
      await unlink(pack.path).catch(() => undefined);
      this.budget.release(pack.reserved);
      this.budget.removeHolder(this);
    }
    await Promise.allSettled([...this.seals]);
  }

  private startPack(): StagedPack {
    const name = this.packName();
    const path = join(this.stagingDirectory, `${name}.pack`);
    const handle = open(path, 'wx', 0o600);
    handle.catch(() => undefined); // surfaces at the first write
    this.current = { name, path, handle, size: 0, written: 0, reserved: 0, pending: [], records: [], waiting: [] };
    this.budget.addHolder(this);
    return this.current;
  }

  private async writePending(pack: StagedPack): Promise<void> {
    if (pack.pending.length === 0) return;
    const pieces = pack.pending.splice(0);
    const end = pack.size;
    try {
      await writevAll(await pack.handle, pieces, pack.written);
    } catch (error) {
      throw translateWriteError(error, pack.path);
    }
    pack.written = end;
  }

  /** Closes the open pack and starts storing it; waits only when too many seals are in flight. */
  private async seal(): Promise<void> {
    const pack = this.current;
    if (pack === undefined || pack.records.length === 0) return;
    this.current = undefined;
    this.budget.removeHolder(this);
    // Handed to its upload from here: its bytes come back without anyone's action, waiters need not seal more.
    this.budget.startDraining(pack.reserved);
    this.budget.notify();
    while (this.seals.size >= MAX_SEALS_IN_FLIGHT) await Promise.race(this.seals);
    let sealing: Promise<void>;
    try {
      await this.writePending(pack);
      const handle = await pack.handle;
      // Every record's offset in the catalog lies within pack.size: a shorter file must never be stored.
      const { size } = await handle.stat();
      if (size !== pack.size) throw new Error(`staged pack ${pack.path} holds ${size} bytes, ${pack.size} were written to it`);
      await handle.close();
    } catch (error) {
      // The handle too: a failed seal left its fd open for the rest of the process.
      await pack.handle.then((handle) => handle.close(), () => undefined).catch(() => undefined);
      this.fail(pack, error);
      throw error;
    }
    sealing = this.store(pack).finally(() => this.seals.delete(sealing));
    this.seals.add(sealing);
  }

  private async store(pack: StagedPack): Promise<void> {
    try {
      this.beforePut?.(pack.name);
      await this.backend.putPack(pack.name, pack.path);
      // The staged file is consumed (uploaded and removed, or moved into the store's folder).
      this.releaseSealed(pack);
      const ids = this.recordPack({ name: pack.name, size: pack.size, records: pack.records });
      pack.waiting.forEach((waiting, index) => waiting.resolve(ids[index]));
    } catch (error) {
      this.fail(pack, error);
    }
  }

  private fail(pack: StagedPack, error: unknown): void {
    this.failure ??= error;
    for (const waiting of pack.waiting) waiting.reject(error);
    void unlink(pack.path).catch(() => undefined).finally(() => this.releaseSealed(pack));
  }

  /** Gives a sealed pack's staging bytes back, once (a pack that failed after its upload is not released twice). */
  private releaseSealed(pack: StagedPack): void {
    const bytes = pack.reserved;
    pack.reserved = 0;
    if (bytes > 0) this.budget.release(bytes, true);
  }
}

/**
 * Writes every byte of pieces at position, or throws. One writev can write less and say nothing:
 * libuv writes its buffers in turn and, when a later write fails (ENOSPC, EDQUOT), returns the count
 * written so far without the error. Taken as whole, the pack was stored and recorded short, with
 * catalog offsets past its end. The rest is written again, and a full disk then fails that write.
 */
export async function writevAll(handle: Pick<FileHandle, 'writev'>, pieces: readonly Buffer[], position: number): Promise<void> {
  let rest = [...pieces];
  let at = position;
  while (rest.length > 0) {
    const total = rest.reduce((sum, piece) => sum + piece.length, 0);
    const { bytesWritten } = await handle.writev(rest, at);
    if (bytesWritten === total) return;
    if (bytesWritten <= 0) throw new Error(`writev wrote nothing of ${total} bytes at ${at}`);
    at += bytesWritten;
    rest = remainderAfter(rest, bytesWritten);
  }
}

/** The pieces left once count bytes of them are written: the first one cut where the write stopped. */
function remainderAfter(pieces: readonly Buffer[], count: number): Buffer[] {
  let skipped = count;
  let index = 0;
  while (skipped >= pieces[index].length) skipped -= pieces[index++].length;
  return [pieces[index].subarray(skipped), ...pieces.slice(index + 1)];
}
