// Turns one file's byte stream into a content when the server chunks (a client that sends bytes):
// chunks it, stores only chunks the store lacks (compressed, verified), checks the whole-stream hash
// and size the client declared, and names the content by its chunks' hashes (content-hash.ts).
import { createHash, type Hash } from 'node:crypto';
import type { Chunker } from '../chunker/chunker';
import type { Catalog } from '../catalog/catalog';
import type { PackWriter } from '../pack/pack-writer';
import { type EncodedChunk, sha256 } from '../codec';
import { CorruptError } from '../../common/errors';
import { ContentHasher } from '../../common/content-hash';
import type { InFlightWork } from './in-flight';
import type { SessionHold } from './open-sessions';
import type { ContentRef, PendingContent } from './content-ref';
import { heldCopySize, useChunk } from './new-bytes';
import { payloadHashOf, writeSharedChunk } from './shared-payload';
import type { KnownChunk } from '../catalog/chunks-table';
import { assertWithinLimit, type StoredBytesLimit } from './stored-limit';

/** Raw and compressed bytes of the chunks a session stored for the first time. */
export interface StoredBytes {
  newBytes: number;
  storedBytes: number;
  /** What the entries added so far take in the catalog, about (entry-metadata-bytes.ts): counted with storedBytes against the limit. */
  metadataBytes: number;
  /** Set when a copy was refused at the session's limit (stored-limit.ts). */
  isLimitReached?: boolean;
}

/** A chunk this session stored: its id settles once its pack is stored and recorded. */
export interface NewChunk {
  readonly chunkId: Promise<number>;
  readonly rawSize: number;
}

export interface ContentWriterContext {
  readonly catalog: Catalog;
  /** The backup's client: what it held before the session decides what its backup reports as new. */
  readonly clientId: number;
  readonly packWriter: PackWriter;
  /**
   * Where the bytes of a chunk only other clients hold are written as if new, then dropped (cover-writer.ts);
   * undefined when the server is set not to (server.conf hide_shared_chunks = no).
   */
  readonly coverWriter: PackWriter | undefined;
  /** Compresses and verifies a chunk, usually on a worker thread. */
  readonly encode: (raw: Buffer) => Promise<EncodedChunk>;
  readonly hold: SessionHold;
  /** Chunks this session appended whose rows are not known to the catalog yet, by hex hash: a repeat reuses the first copy. */
  readonly newChunks: Map<string, NewChunk>;
  /** Contents not in the catalog yet, by `hash:size`: an identical file later in the session reuses it. */
  readonly pendingContents: Map<string, PendingContent>;
  /**
   * Chunks this session stored or used since its last flush, by hex hash: the client's own from the
   * flush on (those it stored from their packs' records already). A key here also means "counted".
   */
  readonly clientHashes: Map<string, UsedChunk>;
  readonly inFlight: InFlightWork;
  readonly stored: StoredBytes;
  /** What the backup may store at most (its client's hard_quota); undefined: no bound. */
  readonly storedLimit: StoredBytesLimit | undefined;
}

/** A chunk a session used: chunkId undefined for one the session stored itself (its id settles with its pack). */
export interface UsedChunk {
  readonly hash: Buffer;
  chunkId: number | undefined;
  /**
   * What the client's own copy takes stored, which its quota is charged (client_chunks.stored_size):
   * its existing row's, the payload it sent, or the store's encoding of its bytes. Set by the flush
   * at the latest (a chunk being encoded sets it then, and the flush drains the encoders first).
   */
  storedSize: number;
}

/** Raw bytes being encoded at once per session: enough to keep the workers busy, bounded in memory. */
const MAX_BYTES_IN_FLIGHT = 4 * 1024 * 1024;

const EMPTY_HASH = sha256(Buffer.alloc(0));

export class ContentWriter {
  private readonly chunks: (number | Promise<number>)[] = [];
  private readonly contentHash = new ContentHasher();
  private lastAppend: Promise<unknown> = Promise.resolve();
  /** Streamed contents only (write/finish); a whole one (storeWhole) is hashed through its chunks. */
  private wholeHash: Hash | undefined;
  private size = 0;
  /** A chunk the catalog did not know: then no content in the catalog can hold these bytes. */
  private hasNewChunk = false;

  constructor(
    private readonly context: ContentWriterContext,
    private readonly chunker: Chunker,
    /** Names the content in errors (client and path); built only for a message. */
    private readonly label: () => string,
  ) {}

  get bytesReceived(): number {
    return this.size;
  }

  async write(data: Buffer): Promise<void> {
    (this.wholeHash ??= createHash('sha256')).update(data);
    this.size += data.length;
    for (const chunk of this.chunker.push(data)) await this.storeChunk(chunk, sha256(chunk));
  }

  /** Stores the tail and records the content; rejects when hash or size differ from what the client declared. */
  async finish(expectedHash: Buffer, expectedSize: number): Promise<ContentRef> {
    for (const chunk of this.chunker.finish()) await this.storeChunk(chunk, sha256(chunk));
    const hash = this.wholeHash?.digest() ?? EMPTY_HASH;
    if (this.size !== expectedSize) {
      throw new CorruptError(`${this.label()}: received ${this.size} bytes but the client declared ${expectedSize}`);
    }
    // The stream's own hash guards the transport; the content is named by its chunks.
    if (!hash.equals(expectedHash)) {
      throw new CorruptError(`${this.label()}: content hash differs from the one the client sent`);
    }
    return this.record();
  }

  /** Stores a whole content received in one piece (a small file sent inline): no stream hash to check. */
  async storeWhole(content: Buffer): Promise<ContentRef> {
    this.size = content.length;
    for (const piece of [...this.chunker.push(content), ...this.chunker.finish()]) await this.storeChunk(piece, sha256(piece));
    return this.record();
  }

  private record(): ContentRef {
    const hash = this.contentHash.digest();
    const key = `${hash.toString('hex')}:${this.size}`;
    // A content row exists only with all its chunk rows, so one new chunk rules the lookup out.
    const existing = this.hasNewChunk ? undefined : this.context.catalog.contents.find(hash, this.size);
    if (existing !== undefined) {
      this.context.hold.contents.add(existing.id);
      this.context.hold.reusedSinceFlush.add(existing.id);
      return { id: existing.id, size: existing.size };
    }
    let content = this.context.pendingContents.get(key);
    if (content === undefined) {
      content = { hash, size: this.size, chunks: this.chunks };
      this.context.pendingContents.set(key, content);
    }
    return content;
  }

  private async storeChunk(chunk: Buffer, hash: Buffer): Promise<void> {
    this.contentHash.add(hash);
    const key = hash.toString('hex');
    const known = this.context.catalog.chunks.known(hash);
    const { used, isFirstUse } = useChunk(this.context, hash, key, known?.chunkId);
    if (known) {
      // Held in the same turn as the lookup: a sweep cannot fall between them.
      this.context.hold.chunks.add(known.chunkId);
      this.chunks.push(known.chunkId);
      if (!isFirstUse) return;
      const heldSize = heldCopySize(this.context, hash);
      if (heldSize === undefined) await this.countOwnCopy(chunk, hash, used, known);
      else used.storedSize = heldSize;
      return;
    }
    this.hasNewChunk = true;
    const stored = this.context.newChunks.get(key);
    if (stored !== undefined) {
      this.chunks.push(stored.chunkId);
      return;
    }
    const appended = this.encodeAndAppend(chunk, hash, used);
    const chunkId = appended.then((record) => record.chunkId);
    chunkId.catch(() => undefined); // awaited by the flush; a failure surfaces through `written` first
    this.context.newChunks.set(key, { chunkId, rawSize: chunk.length });
    this.chunks.push(chunkId);
    await this.context.inFlight.add(appended.then((record) => record.written), chunk.length, MAX_BYTES_IN_FLIGHT);
  }

  /**
   * Counts a chunk the store has from another client as this backup's new bytes, stored as this store
   * would encode it now: the row's stored size is the first uploader's encoding (raw, another level).
   * The same size is what the client's quota is charged for it. An encoding other than the shared
   * copy's is stored as the client's own copy (see shared-payload.ts). Counted before the next flush,
   * which drains the work in flight.
   */
  private async countOwnCopy(chunk: Buffer, hash: Buffer, used: UsedChunk, known: KnownChunk): Promise<void> {
    this.context.stored.newBytes += chunk.length;
    const encoding = this.context.encode(chunk);
    const previous = this.lastAppend;
    // Counted in stream order with the new chunks (encodeAndAppend): counted as soon as its encode ended, a
    // chunk another client holds moved which count crossed the hard_quota, and the stop's figure told the
    // client so (review: 2 bytes apart, 4 of 4 pairs).
    const counted = (async () => {
      const encoded = await encoding;
      await previous;
      try {
        assertWithinLimit(this.context.storedLimit, this.context.stored, encoded.payload.length);
      } catch (error) {
        // Not the client's: kept, the abandon would make it its own, charged nothing.
        this.context.clientHashes.delete(hash.toString('hex'));
        throw error;
      }
      this.context.stored.storedBytes += encoded.payload.length;
      used.storedSize = encoded.payload.length;
      return { written: writeSharedChunk(this.context, known, hash, encoded.codec, chunk.length, encoded.payload) };
    })();
    this.lastAppend = counted.catch(() => undefined);
    await this.context.inFlight.add(counted.then(({ written }) => written), chunk.length, MAX_BYTES_IN_FLIGHT);
  }

  private encodeAndAppend(chunk: Buffer, hash: Buffer, used: UsedChunk): Promise<{ written: Promise<void>; chunkId: Promise<number> }> {
    // Chunks encode in parallel but are appended in stream order: a file's chunks then lie in
    // sequence in its pack, which is what restore reads fastest.
    const encoding = this.context.encode(chunk);
    const previous = this.lastAppend;
    const appended = (async () => {
      const encoded = await encoding;
      await previous;
      // Checked, appended and counted in one turn: a concurrent encode sees this one counted.
      assertWithinLimit(this.context.storedLimit, this.context.stored, encoded.payload.length);
      const record = this.context.packWriter.append(hash, encoded.codec, chunk.length, encoded.payload, payloadHashOf(encoded.codec, hash, encoded.payload));
      this.context.stored.newBytes += chunk.length;
      this.context.stored.storedBytes += record.storedSize;
      used.storedSize = record.storedSize;
      return record;
    })();
    // The pack writer keeps appends in call order; awaiting the previous call is all the ordering needed.
    this.lastAppend = appended.catch(() => undefined);
    return appended;
  }
}
