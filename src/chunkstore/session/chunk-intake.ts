// Chunks a client cut, hashed and compressed itself: which ones the store must receive (answered
// only from this client's own knowledge, never from other clients' data), each received chunk
// decoded and re-hashed before it is appended (a lying client cannot poison the store), and a file
// described as a chunk list resolved to a content — accepted only if every chunk is one this
// client holds or sent in this backup.
import type { ChunkCodec } from '../codec';
import { sha256, zstdPayloadProblem } from '../codec';
import { Codec } from '../pack/pack-format';
import type { PackWriter } from '../pack/pack-writer';
import { LimitError, ProtocolError } from '../../common/errors';
import { contentHashOf } from '../../common/content-hash';
import type { ContentWriterContext } from './content-writer';
import type { ContentRef } from './content-ref';
import { heldCopySize, useChunk } from './new-bytes';
import { payloadHashOf, writeSharedChunk } from './shared-payload';
import type { ClientChunk } from '../catalog/client-chunks-table';
import { assertWithinLimit } from './stored-limit';

const HASH_SIZE = 32;
/** Raw bytes being verified and appended at once: bounded, the workers (or this thread) kept busy. */
const MAX_BYTES_IN_FLIGHT = 8 * 1024 * 1024;
const MEBIBYTE = 1024 * 1024;

/**
 * The most raw bytes the chunks of one message may declare. A message is verified (every chunk
 * decoded and hashed) in one synchronous turn of the server's only thread, and a zstd frame of a
 * 512 KiB run of zeros is some 30 bytes: without a bound, one 4 MiB message is 25 GiB of work. The
 * client sends a query's chunks, which stop at a query's byte bound plus one chunk (1 MiB now, 8 MiB
 * in the first versions): this is comfortably above either, and a turn stays in tens of milliseconds.
 */
export function maxRawBytesPerMessage(maxChunkSize: number): number {
  return 16 * MEBIBYTE + 2 * maxChunkSize;
}

/**
 * The most chunks one message may carry. Each is verified, looked up and recorded in the same turn,
 * whatever its size (some 30 µs here), and the byte bound above lets through a million chunks of a few
 * bytes. A client sends a query's chunks: at most 512 (QUERY_HASHES), 1024 in the first versions.
 */
export const MAX_CHUNKS_PER_MESSAGE = 4096;

export interface ReceivedChunk {
  readonly hash: Buffer;
  readonly rawSize: number;
  readonly codec: number;
  readonly payload: Buffer;
}

export class ChunkIntake {
  /** Chunks this client was told the store has, with what its own copy takes: held for the session, by hex hash. */
  private readonly answered = new Map<string, ClientChunk>();
  /** Where received chunks are decoded to be hashed (maxChunkSize bytes once the first one comes). */
  private scratch = Buffer.alloc(0);

  /**
   * A client that held no chunk when the session began knows only what this session stored or was
   * told (both in memory): its first backup skips a catalog lookup per chunk. Its own answers only,
   * so nothing about other clients shows in them or in their timing.
   */
  private readonly holdsNoChunks: boolean;

  constructor(
    private readonly context: ContentWriterContext,
    private readonly packWriter: PackWriter,
    private readonly codec: ChunkCodec,
    private readonly clientId: number,
    /** Names the client in the refusal of a message over the bound. */
    private readonly clientName: string,
    private readonly maxChunkSize: number,
  ) {
    this.holdsNoChunks = !context.catalog.clientChunks.hasAny(clientId);
  }

  /** Chunks the session remembers until its next flush: what it was told the client holds, and what it stored. */
  get rememberedChunks(): number {
    return this.answered.size + this.context.newChunks.size;
  }

  /**
   * At a flush: what the client was told it holds is its own in the catalog from now on (held by the
   * session), so content() finds it there (heldSinceFlush). Kept, the map grew by a chunk for every
   * chunk of an unchanged large file, and by one for every chunk a hostile client sent.
   */
  forgetAnswers(): void {
    this.answered.clear();
  }

  /** A bitmap of the hashes (32 bytes each) the client must send: bit i set = chunk i is missing. */
  missing(hashes: Buffer): Buffer {
    if (hashes.length % HASH_SIZE !== 0) throw new ProtocolError(`a chunk query of ${hashes.length} bytes is not a list of 32-byte hashes`);
    const count = hashes.length / HASH_SIZE;
    const bitmap = Buffer.alloc(Math.ceil(count / 8));
    // One read transaction for the query's lookups (see receive()).
    this.context.catalog.transaction(() => this.markMissing(hashes, count, bitmap));
    return bitmap;
  }

  private markMissing(hashes: Buffer, count: number, bitmap: Buffer): void {
    for (let index = 0; index < count; index++) {
      const hash = hashes.subarray(index * HASH_SIZE, (index + 1) * HASH_SIZE);
      const key = hash.toString('hex');
      if (this.context.newChunks.has(key) || this.answered.has(key)) continue;
      // From this client's own rows only: the answer (and its timing) says nothing about other clients.
      const known = this.holdsNoChunks ? undefined : this.context.catalog.clientChunks.known(this.clientId, hash);
      if (known !== undefined) {
        // Held in the same turn as the answer: a sweep cannot take it before the file that uses it arrives.
        this.context.hold.chunks.add(known.chunkId);
        this.answered.set(key, known);
        continue;
      }
      bitmap[index >> 3] |= 1 << (index & 7);
    }
  }

  /**
   * Verifies the chunks of one message (each decoded within its declared size, re-hashed) and appends
   * them; refuses a mismatch. The catalog lookups of the message share one read transaction: in WAL
   * mode each lookup on its own opened and closed a read transaction, which cost more than the lookup.
   */
  async receive(received: readonly ReceivedChunk[]): Promise<void> {
    if (received.length > MAX_CHUNKS_PER_MESSAGE) {
      throw new LimitError(`client "${this.clientName}" sent ${received.length} chunks in one message; the limit is ${MAX_CHUNKS_PER_MESSAGE}: refused`);
    }
    const limit = maxRawBytesPerMessage(this.maxChunkSize);
    let declared = 0;
    // A chunk declaring more than a chunk may hold is refused on its own, below, with what it declares.
    for (const chunk of received) declared += Math.min(chunk.rawSize, this.maxChunkSize);
    if (declared > limit) {
      const total = received.reduce((sum, chunk) => sum + chunk.rawSize, 0);
      throw new LimitError(`client "${this.clientName}" sent ${received.length} chunks declaring ${total} bytes in one message; `
        + `the limit is ${limit} bytes (${(limit / MEBIBYTE).toFixed(1)} MiB) per message: refused`);
    }
    // A chunk sent twice in one message is verified once: decoding is the work the bound above limits.
    const inMessage = new Set<string>();
    const verified = received.map((chunk) => this.verified(chunk, inMessage));
    // Looked up, held and appended in one synchronous turn: no sweep can fall between a lookup and its hold.
    const appended = this.context.catalog.transaction(() => verified.map((chunk) => (chunk === undefined ? undefined : this.store(chunk))));
    for (const record of appended) {
      const held = record === undefined ? undefined : this.context.inFlight.add(record.written, record.rawSize, MAX_BYTES_IN_FLIGHT);
      if (held !== undefined) await held;
    }
  }

  /**
   * The chunk if it must be stored, its hash copied: the fields may be views into a received message,
   * and only the payload is kept (until its pack is written), never a view that would hold the whole
   * message for the rest of the backup. Undefined for a chunk this session already has.
   */
  private verified(received: ReceivedChunk, inMessage: Set<string>): ReceivedChunk | undefined {
    const chunk = { ...received, hash: Buffer.from(received.hash) };
    const key = chunk.hash.toString('hex');
    if (chunk.hash.length !== HASH_SIZE) throw new ProtocolError('a chunk whose hash is not 32 bytes');
    if (!(chunk.rawSize > 0 && chunk.rawSize <= this.maxChunkSize)) {
      throw new ProtocolError(`chunk ${key} declares ${chunk.rawSize} bytes; chunks are 1 to ${this.maxChunkSize} bytes`);
    }
    if (chunk.codec !== Codec.Raw && chunk.codec !== Codec.Zstd) throw new ProtocolError(`chunk ${key} has unknown codec ${chunk.codec}`);
    // Sent twice, in an earlier message or in this one: the first copy serves.
    if (this.context.newChunks.has(key) || this.answered.has(key) || inMessage.has(key)) return undefined;
    inMessage.add(key);
    // The declared size goes into the chunk's catalog row, which later senders of the same bytes (any
    // client) are deduplicated against: a raw chunk must carry exactly it, as a zstd one must decode to it.
    if (chunk.codec === Codec.Raw && chunk.payload.length !== chunk.rawSize) {
      throw new ProtocolError(`chunk ${key} declares ${chunk.rawSize} bytes and carries ${chunk.payload.length}: refused`);
    }
    // The payload is stored as sent and counted in that row too: one zstd frame as this store writes it, no
    // padding. Read from its header, before the decode and the hash it would otherwise cost to refuse.
    const payloadProblem = chunk.codec === Codec.Zstd ? zstdPayloadProblem(chunk.payload, chunk.rawSize) : undefined;
    if (payloadProblem !== undefined) throw new ProtocolError(`chunk ${key}: ${payloadProblem}: refused`);
    let raw: Buffer;
    try {
      // The output is sized by the declared size, never by the frame: a zstd bomb cannot grow past it.
      // Decoded only to be hashed: into one reused buffer, not a fresh one per chunk for the collector to chase.
      raw = chunk.codec === Codec.Raw ? chunk.payload : this.codec.decode(chunk.codec, chunk.payload, chunk.rawSize, this.scratchOf(chunk.rawSize));
    } catch (error) {
      throw new ProtocolError(`chunk ${key} does not decode to its declared ${chunk.rawSize} bytes: refused (${(error as Error).message})`);
    }
    if (!sha256(raw).equals(chunk.hash)) throw new ProtocolError(`chunk ${key} does not match its hash: refused`);
    return chunk;
  }

  private scratchOf(size: number): Buffer {
    if (this.scratch.length < size) this.scratch = Buffer.allocUnsafe(this.maxChunkSize);
    return this.scratch.subarray(0, size);
  }

  /** Appends a verified chunk, unless the store holds it already or it came twice in one message. */
  private store(chunk: ReceivedChunk): { written: Promise<void>; rawSize: number } | undefined {
    const key = chunk.hash.toString('hex');
    if (this.context.newChunks.has(key) || this.answered.has(key)) return undefined;
    // Another client's copy: the client had to send it (it may not learn that the store has it), but it is stored once.
    const existing = this.context.catalog.chunks.known(chunk.hash);
    const { used, isFirstUse } = useChunk(this.context, chunk.hash, key, existing?.chunkId);
    if (existing !== undefined) {
      this.context.hold.chunks.add(existing.chunkId);
      // Nor from its backup's new bytes, nor from what they take, nor from its quota: its own copy is
      // the payload it sent, unless it held the chunk before (a copy it was charged for then).
      const heldSize = isFirstUse ? heldCopySize(this.context, chunk.hash) : used.storedSize;
      if (heldSize === undefined) {
        this.assertRoomFor(chunk.payload.length, key, isFirstUse);
        this.context.stored.newBytes += chunk.rawSize;
        this.context.stored.storedBytes += chunk.payload.length;
      }
      used.storedSize = heldSize ?? chunk.payload.length;
      this.answered.set(key, { chunkId: existing.chunkId, rawSize: existing.rawSize, storedSize: used.storedSize });
      // A chunk the client held itself tells it nothing it did not know.
      if (heldSize !== undefined) return undefined;
      const written = writeSharedChunk(this.context, existing, chunk.hash, chunk.codec, chunk.rawSize, chunk.payload);
      return written === undefined ? undefined : { written, rawSize: chunk.rawSize };
    }
    this.assertRoomFor(chunk.payload.length, key, isFirstUse);
    const record = this.packWriter.append(chunk.hash, chunk.codec, chunk.rawSize, chunk.payload, payloadHashOf(chunk.codec, chunk.hash, chunk.payload));
    record.chunkId.catch(() => undefined); // awaited by the flush; a failure surfaces through `written` first
    this.context.newChunks.set(key, { chunkId: record.chunkId, rawSize: chunk.rawSize });
    this.context.stored.newBytes += chunk.rawSize;
    this.context.stored.storedBytes += record.storedSize;
    return { written: record.written, rawSize: chunk.rawSize };
  }

  /**
   * Refuses a copy that would take the backup past its limit (hard_quota). Thrown inside receive()'s
   * transaction, which writes nothing; what was appended before stays within the limit. The refused
   * chunk is not the client's: its record goes, or the abandon would make it the client's, charged nothing.
   */
  private assertRoomFor(storedSize: number, key: string, isFirstUse: boolean): void {
    try {
      assertWithinLimit(this.context.storedLimit, this.context.stored, storedSize);
    } catch (error) {
      if (isFirstUse) this.context.clientHashes.delete(key);
      throw error;
    }
  }

  /**
   * A chunk this session stored before its last flush (which forgets them, for memory): entries may
   * arrive long after their chunks (a query gathers many files), so one may still name it. Its pack is
   * sealed by now, so it is this client's own and held by the session: the rule missing() answers by.
   */
  private heldSinceFlush(hash: Buffer, key: string): ClientChunk | undefined {
    const known = this.context.catalog.clientChunks.known(this.clientId, hash);
    if (known === undefined) return undefined;
    this.context.hold.chunks.add(known.chunkId);
    this.answered.set(key, known);
    return known;
  }

  /** The content a chunk list describes (32-byte hashes in order), each chunk held or sent by this client. */
  content(hashes: Buffer, label: () => string): ContentRef {
    if (hashes.length % HASH_SIZE !== 0) throw new ProtocolError(`${label()}: its chunk list is not a list of 32-byte hashes`);
    const chunks: (number | Promise<number>)[] = [];
    const chunkHashes: Buffer[] = [];
    let size = 0;
    let hasNewChunk = false;
    for (let offset = 0; offset < hashes.length; offset += HASH_SIZE) {
      const hash = hashes.subarray(offset, offset + HASH_SIZE);
      const key = hash.toString('hex');
      const stored = this.context.newChunks.get(key);
      hasNewChunk ||= stored !== undefined;
      const known = stored === undefined ? this.answered.get(key) ?? this.heldSinceFlush(hash, key) : undefined;
      if (stored === undefined && known === undefined) {
        // Asking for a chunk by hash alone would let a client read data it never had.
        throw new ProtocolError(`${label()}: chunk ${key} was neither sent in this backup nor is it one this client holds`);
      }
      chunks.push(stored?.chunkId ?? known!.chunkId);
      chunkHashes.push(hash);
      // Recorded as the client's own at the next flush, with the entry that uses it and the size of its
      // copy: a deletion since the answer may have made the client forget it (ClientChunksTable.forgetUnreferenced).
      // A copy: `hashes` is a message.
      if (!this.context.clientHashes.has(key)) {
        this.context.clientHashes.set(key, { hash: Buffer.from(hash), chunkId: stored === undefined ? known!.chunkId : undefined, storedSize: known?.storedSize ?? 0 });
      }
      size += stored?.rawSize ?? known!.rawSize;
    }
    const contentHash = contentHashOf(chunkHashes);
    // A content holding a chunk this session stored first cannot be in the catalog yet (at most another
    // session's copy is being committed, and a second row for the same bytes is only a few bytes).
    const existing = hasNewChunk ? undefined : this.context.catalog.contents.find(contentHash, size);
    if (existing !== undefined) {
      this.context.hold.contents.add(existing.id);
      this.context.hold.reusedSinceFlush.add(existing.id);
      return { id: existing.id, size };
    }
    const pendingKey = `${contentHash.toString('hex')}:${size}`;
    let pending = this.context.pendingContents.get(pendingKey);
    if (pending === undefined) {
      pending = { hash: contentHash, size, chunks };
      this.context.pendingContents.set(pendingKey, pending);
    }
    return pending;
  }
}
