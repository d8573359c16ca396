// Turns one file's byte stream into a stored content: chunks it, stores only unknown chunks
// (compressed, verified), and checks the whole-file hash and size the client declared.
import { createHash, type Hash } from 'node:crypto';
import type { Chunker } from './chunker/chunker';
import type { Catalog } from './catalog/catalog';
import type { NewChunkRow } from './catalog/records';
import type { PackWriter } from './pack/pack-writer';
import { type EncodedChunk, sha256 } from './codec';
import { CorruptError } from '../common/errors';
import type { InFlightWork } from './in-flight';

/** A content recorded in memory until the session's next flush writes it with its entries. */
export interface PendingContent {
  readonly hash: Buffer;
  readonly size: number;
  readonly chunks: readonly (number | NewChunkRow)[];
}

export interface ContentResult {
  /** An existing content's id, or one this session will insert at its next flush (after draining inFlight). */
  readonly content: number | PendingContent;
  readonly size: number;
}

/** Raw and compressed bytes of the chunks a session stored for the first time. */
export interface StoredBytes {
  newBytes: number;
  storedBytes: number;
}

export interface ContentWriterContext {
  readonly catalog: Catalog;
  readonly packWriter: PackWriter;
  /** Compresses and verifies a chunk, usually on a worker thread. */
  readonly encode: (raw: Buffer) => Promise<EncodedChunk>;
  /** Packs of chunks this session deduplicated against; they must be fsynced before commit. */
  readonly referencedPacks: Set<number>;
  /** Chunks this session stored whose rows are not in the catalog yet, by hex hash: a repeat reuses the first copy. */
  readonly chunksInFlight: Map<string, Promise<NewChunkRow>>;
  /** Contents not in the catalog yet, by `hash:size`: an identical file later in the session reuses it. */
  readonly pendingContents: Map<string, PendingContent>;
  /** Chunk stores not finished yet; a pending content's chunk list is complete only once they are. */
  readonly inFlight: InFlightWork;
  readonly stored: StoredBytes;
}

/** Raw bytes being encoded at once per session: enough to keep the workers busy, bounded in memory. */
const MAX_BYTES_IN_FLIGHT = 4 * 1024 * 1024;

const EMPTY_HASH = sha256(Buffer.alloc(0));

export class ContentWriter {
  /** Known chunks by id; chunks this file stored first by location (their rows go in at the session's flush). */
  private readonly chunks: (number | NewChunkRow)[] = [];
  private lastAppend: Promise<unknown> = Promise.resolve();
  /** Streamed contents only (write/finish); a whole one (storeWhole) is hashed through its chunks. */
  private wholeHash: Hash | undefined;
  private size = 0;
  /** A chunk the catalog did not know: then no content in the catalog can hold these bytes. */
  private hasChunkOutsideCatalog = false;

  constructor(
    private readonly context: ContentWriterContext,
    private readonly chunker: Chunker,
    private readonly label: string,
  ) {}

  get bytesReceived(): number {
    return this.size;
  }

  async write(data: Buffer): Promise<void> {
    (this.wholeHash ??= createHash('sha256')).update(data);
    this.size += data.length;
    for (const chunk of this.chunker.push(data)) await this.storeChunk(chunk, sha256(chunk));
  }

  /** Stores the tail and records the content; rejects when hash or size differ from the client's. */
  async finish(expectedHash: Buffer, expectedSize: number): Promise<ContentResult> {
    for (const chunk of this.chunker.finish()) await this.storeChunk(chunk, sha256(chunk));
    const hash = this.wholeHash?.digest() ?? EMPTY_HASH;
    if (this.size !== expectedSize) {
      throw new CorruptError(`${this.label}: received ${this.size} bytes but the client declared ${expectedSize}`);
    }
    if (!hash.equals(expectedHash)) {
      throw new CorruptError(`${this.label}: content hash differs from the one the client sent`);
    }
    return this.record(hash);
  }

  /**
   * Stores a whole content received in one piece (a small file sent inline). Most are one chunk,
   * whose hash is then the content's hash too: one SHA-256 pass instead of two.
   */
  async storeWhole(content: Buffer): Promise<ContentResult> {
    this.size = content.length;
    const pieces = [...this.chunker.push(content), ...this.chunker.finish()];
    const hashes = pieces.map((piece) => sha256(piece));
    for (let index = 0; index < pieces.length; index++) await this.storeChunk(pieces[index], hashes[index]);
    return this.record(pieces.length === 0 ? EMPTY_HASH : pieces.length === 1 ? hashes[0] : sha256(content));
  }

  private record(hash: Buffer): ContentResult {
    const key = `${hash.toString('hex')}:${this.size}`;
    // A content row exists only with all its chunk rows, so one unknown chunk rules the lookup out.
    const existing = this.hasChunkOutsideCatalog ? undefined : this.context.catalog.findContent(hash, this.size)?.id;
    let content: number | PendingContent | undefined = existing ?? this.context.pendingContents.get(key);
    if (content === undefined) {
      content = { hash, size: this.size, chunks: this.chunks };
      this.context.pendingContents.set(key, content);
    }
    return { content, size: this.size };
  }

  private async storeChunk(chunk: Buffer, hash: Buffer): Promise<void> {
    const seq = this.chunks.length;
    this.chunks.push(0);
    const known = this.context.catalog.knownChunk(hash);
    if (known) {
      this.context.referencedPacks.add(known.packId);
      this.chunks[seq] = known.chunkId;
      return;
    }
    this.hasChunkOutsideCatalog = true;
    const key = hash.toString('hex');
    let stored = this.context.chunksInFlight.get(key);
    if (stored === undefined) {
      stored = this.encodeAndAppend(chunk, hash);
      this.context.chunksInFlight.set(key, stored);
    }
    await this.context.inFlight.add(stored.then((row) => { this.chunks[seq] = row; }), chunk.length, MAX_BYTES_IN_FLIGHT);
  }

  private encodeAndAppend(chunk: Buffer, hash: Buffer): Promise<NewChunkRow> {
    // Chunks encode in parallel but are appended in stream order: a file's chunks then lie in
    // sequence in its pack, which is what restore reads fastest.
    const encoding = this.context.encode(chunk);
    const previous = this.lastAppend;
    const appended = this.appendAfter(previous, encoding, chunk.length, hash);
    this.lastAppend = appended.catch(() => undefined);
    return appended;
  }

  private async appendAfter(previous: Promise<unknown>, encoding: Promise<EncodedChunk>, rawSize: number, hash: Buffer): Promise<NewChunkRow> {
    const encoded = await encoding;
    await previous;
    const stored = await this.context.packWriter.append(hash, encoded.codec, rawSize, encoded.payload);
    this.context.stored.newBytes += rawSize;
    this.context.stored.storedBytes += stored.storedSize;
    return stored;
  }
}
