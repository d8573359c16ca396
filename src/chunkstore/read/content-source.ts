// Where one content's bytes come from during a restore: chunks decoded and verified one by one,
// read in runs from the page's chunk list, or paged from the catalog for big contents.
import type { PackBackend } from '../backend/pack-backend';
import type { ChunkLocation } from '../catalog/records';
import type { ContentsTable } from '../catalog/contents-table';
import type { ChunkCodec } from '../codec';
import type { RecordFraming } from '../pack/record-framing';
import type { ChunkRunReader } from '../pack/chunk-run-reader';
import type { ReaderLease } from './reader-leases';
import { readChunk, readRecord, verifyRecord, verifyStoredRecord, type StoredRecord } from '../pack/pack-reader';
import { CorruptError, NotFoundError } from '../../common/errors';

/** One chunk of a content: decoded and verified on demand (into a given buffer of rawSize bytes, or a new one), or handed on as stored. */
export interface ChunkToDecode {
  readonly hash: Buffer;
  readonly rawSize: number;
  decode(into?: Buffer): Promise<Buffer>;
  /** As stored (its record header checked): for a reader that decodes and verifies it itself. */
  stored(): Promise<StoredRecord>;
}

/**
 * A stored content. Iterating its chunks or decoding one throws CorruptError (naming pack and
 * offset) for damage; other errors are I/O errors. The sizes of the chunks add up to `size` unless
 * the catalog is damaged, which readWhole() reports and a streaming caller must check.
 */
export interface ContentSource {
  readonly hash: Buffer;
  readonly size: number;
  chunks(): AsyncIterable<ChunkToDecode>;
  /** The whole content in one buffer, each chunk decoded straight into its place (for small contents). */
  readWhole(): Promise<Buffer>;
  /**
   * Every chunk as stored and verified, as chunks() and stored() give them, where each one's bytes are read
   * already and verify: no turn of the event loop. Undefined otherwise (or for a source that cannot tell):
   * chunks() then reads them, and reports what is damaged.
   */
  storedIfRead?(): readonly StoredChunk[] | undefined;
}

/** A chunk as stored (StoredRecord), with what the catalog says of it. */
export interface StoredChunk {
  readonly hash: Buffer;
  readonly rawSize: number;
  readonly stored: StoredRecord;
}

/**
 * Told of each chunk that did not read back intact where its location places it (CorruptError: a missing pack, a
 * header, payload or hash that does not match): the store marks it damaged as check does, so the next backup holding
 * its bytes sends them again and heals it. Before, a restore only reported it, and every later backup deduplicated
 * against the damaged copy with exit 0 (red team F4).
 */
export type OnDamagedChunk = (location: ChunkLocation) => void;

/** The chunk's reads, each telling onDamage of the location when it proves damaged. */
function reporting(location: ChunkLocation, onDamage: OnDamagedChunk | undefined,
  decode: (into?: Buffer) => Promise<Buffer>, stored: () => Promise<StoredRecord>): Pick<ChunkToDecode, 'decode' | 'stored'> {
  if (onDamage === undefined) return { decode, stored };
  const told = <T>(read: Promise<T>): Promise<T> => read.catch((error: unknown) => {
    if (error instanceof CorruptError) onDamage(location);
    throw error;
  });
  return { decode: (into?: Buffer) => told(decode(into)), stored: () => told(stored()) };
}

export function listedContent(hash: Buffer, size: number, reader: ChunkRunReader, locations: readonly ChunkLocation[], start: number,
  onDamage?: OnDamagedChunk): ContentSource {
  const source = new SourceOf(hash, size, onDamage !== undefined, async function* () {
    for (let index = 0; index < locations.length; index++) {
      const location = locations[index];
      yield {
        hash: location.hash, rawSize: location.rawSize,
        ...reporting(location, onDamage, (into?: Buffer) => reader.chunkAt(start + index, into), () => reader.storedAt(start + index)),
      };
    }
  });
  source.storedIfRead = (): readonly StoredChunk[] | undefined => {
    const chunks: StoredChunk[] = [];
    for (let index = 0; index < locations.length; index++) {
      const stored = reader.storedAtIfRead(start + index);
      if (stored === undefined) return undefined;
      chunks.push({ hash: locations[index].hash, rawSize: locations[index].rawSize, stored });
    }
    return chunks;
  };
  return source;
}

/**
 * Records read ahead of the one being decoded when packs are remote: a Range GET per chunk, one after
 * another, restored a 256 MiB file from Ceph RGW at 8 MiB/s. Bounds memory to this many records.
 */
const REMOTE_READ_AHEAD = 8;

/** lease: holds each pack in the turn the chunk list names it (the list is read a page at a time, as the content streams). */
export function pagedContent(hash: Buffer, size: number, contentId: number, clientId: number, contents: ContentsTable, backend: PackBackend, codec: ChunkCodec,
  framing: RecordFraming, lease: Pick<ReaderLease, 'hold'>, onDamage?: OnDamagedChunk): ContentSource {
  // A local pack is read from the page cache; only a remote one gains from reads in flight.
  const readAhead = backend.kind === 'local' ? 0 : REMOTE_READ_AHEAD;
  return new SourceOf(hash, size, onDamage !== undefined, async function* () {
    let listed = 0;
    const ahead: ({ location: ChunkLocation; record?: Promise<Buffer> } | { location: { chunkId: null; seq: number } })[] = [];
    const holdPacks = (page: readonly ChunkLocation[]): void => {
      for (const location of page) lease.hold(location.packName);
    };
    const locations = contents.chunks(contentId, { hash, size }, clientId, holdPacks)[Symbol.iterator]();
    let isListEnded = false;
    const fill = (): void => {
      while (!isListEnded && ahead.length <= readAhead) {
        const next = locations.next();
        if (next.done === true) {
          isListEnded = true;
          return;
        }
        const location = next.value;
        if (location.chunkId === null || readAhead === 0) {
          ahead.push({ location } as (typeof ahead)[number]);
          continue;
        }
        const record = readRecord(backend, location, framing);
        record.catch(() => undefined); // awaited when its turn comes; a reader that stops early leaves it unread
        ahead.push({ location, record });
      }
    };
    for (fill(); ahead.length > 0; fill()) {
      const next = ahead.shift()!;
      if (next.location.chunkId === null) throw new CorruptError(`chunk ${next.location.seq} is missing from the catalog`);
      const { location, record } = next as { location: ChunkLocation; record?: Promise<Buffer> };
      listed += location.rawSize;
      const bytes = (): Promise<Buffer> => record ?? readRecord(backend, location, framing);
      yield {
        hash: location.hash, rawSize: location.rawSize,
        ...reporting(location, onDamage,
          async (into?: Buffer) => (record === undefined
            ? readChunk(backend, location, codec, into, framing) : verifyRecord(await bytes(), location, codec, into)),
          async () => verifyStoredRecord(await bytes(), location, codec)),
      };
    }
    // The list is read a page at a time: GC dropping the content after its last backup was deleted cuts it short,
    // which is no damage to the store.
    if (listed < size && !contents.isContent(contentId, { hash, size })) {
      throw new NotFoundError(`content ${contentId} was deleted while it was being read (its backup was deleted)`);
    }
  });
}

class SourceOf implements ContentSource {
  storedIfRead?: () => readonly StoredChunk[] | undefined;

  /**
   * isMarkingDamage: the reads tell the store of damage (onDamage). A reader gives a content up at its first damaged
   * chunk, and the chunks after it would stay unmarked: a pack replaced in the bucket, or rot in several places of one
   * file, then let the next backup of the file store the first chunk again and deduplicate against the others, acknowledged
   * with exit 0 and restoring the same damage (red team reds3). So once a chunk of this content proved damaged, the
   * content's other chunks are verified too (as stored records: each damaged one is marked) before it is given up.
   */
  constructor(readonly hash: Buffer, readonly size: number, private readonly isMarkingDamage: boolean,
    private readonly iterate: () => AsyncGenerator<ChunkToDecode>) {}

  chunks(): AsyncIterable<ChunkToDecode> {
    return this.isMarkingDamage ? this.verifyingRestOnDamage() : this.iterate();
  }

  /**
   * The content's chunks; when the caller stops after one of them proved damaged, the ones it did not take are read
   * as stored records (each damaged one marked) before the list is closed. An I/O error ends that at once: only damage
   * is worth more reads, an unreachable store is not.
   */
  private async *verifyingRestOnDamage(): AsyncGenerator<ChunkToDecode> {
    const inner = this.iterate();
    let isDamageFound = false;
    let isDone = false;
    // Handed out but not read yet: a reader gathering chunks for one frame gives up those after the damaged one too.
    const unread = new Set<ChunkToDecode>();
    // Readers give a content up at its first damage: those handed out and not read yet are verified then (the list may be
    // over already, when a reader gathers the last chunks before it decodes them), the ones not handed out once it closes.
    const noting = <T>(chunk: ChunkToDecode, read: () => Promise<T>): Promise<T> => {
      unread.delete(chunk);
      return read().catch(async (error: unknown) => {
        if (error instanceof CorruptError) {
          isDamageFound = true;
          const others = [...unread];
          unread.clear();
          await verifyRest(undefined, others);
        }
        throw error;
      });
    };
    try {
      for (;;) {
        const next = await inner.next();
        if (next.done === true) {
          isDone = true;
          return;
        }
        const chunk = next.value;
        unread.add(chunk);
        yield { hash: chunk.hash, rawSize: chunk.rawSize,
          decode: (into?: Buffer) => noting(chunk, () => chunk.decode(into)), stored: () => noting(chunk, () => chunk.stored()) };
      }
    } finally {
      if (!isDone) {
        if (isDamageFound) await verifyRest(inner, []);
        await inner.return(undefined);
      }
    }
  }

  async readWhole(): Promise<Buffer> {
    const listed: ChunkToDecode[] = [];
    let size = 0;
    for await (const chunk of this.iterate()) {
      listed.push(chunk);
      size += chunk.rawSize;
    }
    if (size !== this.size) throw new CorruptError(`reassembled content is ${size} bytes, recorded ${this.size}`);
    if (listed.length === 1) return listed[0].decode();
    const whole = Buffer.allocUnsafe(size);
    let offset = 0;
    for (let index = 0; index < listed.length; index++) {
      const chunk = listed[index];
      try {
        await chunk.decode(whole.subarray(offset, offset + chunk.rawSize));
      } catch (error) {
        // As verifyingRestOnDamage does for a streaming reader: every damaged chunk of the content marked, not the first alone.
        if (error instanceof CorruptError && this.isMarkingDamage) await verifyRest(undefined, listed.slice(index + 1));
        throw error;
      }
      offset += chunk.rawSize;
    }
    return whole;
  }
}

/** Reads the listed chunks, then those the iterator has left, as stored records (a damaged one is marked by its read); stops at an I/O error. */
async function verifyRest(rest: AsyncIterator<ChunkToDecode> | undefined, listed: readonly ChunkToDecode[]): Promise<void> {
  const isDamageOnly = (error: unknown): boolean => error instanceof CorruptError;
  for (const chunk of listed) {
    if (!(await chunk.stored().then(() => true, isDamageOnly))) return;
  }
  while (rest !== undefined) {
    let next: IteratorResult<ChunkToDecode>;
    try {
      next = await rest.next();
    } catch {
      return;
    }
    if (next.done === true) return;
    if (!(await next.value.stored().then(() => true, isDamageOnly))) return;
  }
}
