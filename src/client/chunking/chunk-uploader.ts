// Client-side chunking: a file's content is cut with the store's own chunker, each chunk hashed and
// the server asked which chunks it lacks for this client; only those go, compressed on worker
// threads. The file's entry (its chunk list) goes once each of its chunks is sent or known. Every
// message leaves in order (entries after the chunks they need, hard links after their first path).
import type { ChunkAnswer, Chunking, EncodedChunk, EntryMeta, BatchedEntry } from '../../proto/cpsbackup';
import type { ChunkerFactory } from '../../chunkstore/chunker/chunker';
import { loadChunkerFactory } from '../../chunkstore/chunker/registry';
import { EncoderPool } from '../../chunkstore/encoder-pool';
import { ChunkCodec } from '../../chunkstore/codec';
import { batchedEntry } from '../../common/wire/batched-entry';
import type { EntrySink } from '../../common/wire/entry-batcher';
import { MAX_DATA_FRAME, PreparedData } from '../../common/wire/fast-service';
import { ProtocolError } from '../../common/errors';
import { sha256 } from '../../common/sha256';
import type { UploadStream } from '../upload-stream';
import { ByteBudget } from './byte-budget';
import { CHUNK_HASH_SIZE, CHUNK_LIST_HASHES_PER_MESSAGE } from '../../common/wire/chunk-list';

/**
 * Raw bytes held at once between cutting and sending (waiting for answers, compressing): each one
 * costs several times itself in memory (the read frame it lies in, its copy to the worker, its
 * encoded copy, the message, and all of them again as garbage until V8 collects it). Bench E (a
 * 1 GiB file): the client peaked at 272-296 MiB with 16 MiB here, 251-259 with 8, 216-227 with 4,
 * E's wall unchanged; queries of a quarter of it keep four in flight (one at a time made E 17 %
 * slower). The price: bench A (512 MiB, first backup) takes 0.7-1 s (about 10 %) longer than with
 * 16 MiB, its client peaking at 192-199 MiB instead of 220-236 (the note of issue 18). A store cut
 * with chunks bigger than this (chunk_max_size over 4 MiB) gets them one at a time: the budget lets
 * a bigger chunk through only when it holds nothing else.
 */
const MAX_BYTES_PENDING = 4 * 1024 * 1024;
/** A query goes when it holds this many hashes or this many raw bytes (or its file ends, or the budget is spent). */
const QUERY_HASHES = 512;
const QUERY_BYTES = MAX_BYTES_PENDING / 4;
/** ...or when no chunk has joined it for this long: a dump that trickles in must not wait for a full query. */
const QUERY_IDLE_MS = 100;
/**
 * Entries waiting for a query to go, and steps queued to leave: bounded, so a walk of many unchanged
 * files (which never waits on its own) waits for the wire instead of piling entries up in memory.
 */
const MAX_FOLLOWERS = 4096;
const MAX_QUEUED_STEPS = 8192;

interface PendingQuery {
  readonly hashes: Buffer[];
  readonly chunks: Buffer[];
  bytes: number;
  /** Steps (entries) that must leave after this query's chunks: queued once the query goes. */
  readonly followers: (() => Promise<void>)[];
}

function emptyQuery(): PendingQuery {
  return { hashes: [], chunks: [], bytes: 0, followers: [] };
}

export class ChunkUploader implements EntrySink {
  private tail: Promise<void> = Promise.resolve();
  private failure: unknown;
  /** Hashes (latin1) asked about or sent in this backup: each chunk is asked about once. */
  private readonly seen = new Set<string>();
  private query: PendingQuery = emptyQuery();
  private nextQueryId = 1;
  private queuedSteps = 0;
  private queryTimer: NodeJS.Timeout | undefined;
  /**
   * When a chunk last joined the query being gathered. The idle timer is armed once per query and
   * looks at this when it fires: re-arming it for every chunk cost 4 % of the main thread on small files.
   */
  private lastJoinedAt = 0;
  private readonly answers = new Map<number, { resolve(missing: Buffer): void; reject(error: unknown): void }>();
  private readonly budget = new ByteBudget(MAX_BYTES_PENDING);
  private readonly encoder: EncoderPool | undefined;
  /** Made on first use: with encoder threads it never is, and its setup showed as 12 ms in a profile of a no-change backup. */
  private localCodec: ChunkCodec | undefined;
  /** Raw and compressed bytes of the chunks sent. */
  readonly sent = { chunks: 0, rawBytes: 0, encodedBytes: 0 };

  private constructor(
    private readonly stream: UploadStream,
    private readonly batcher: EntrySink,
    private readonly chunkerFactory: ChunkerFactory,
    private readonly compressionLevel: number,
    encoderThreads: number,
  ) {
    // The server decodes and re-hashes every chunk it receives: checking the round trip here too would only double the work.
    this.encoder = encoderThreads > 0 ? new EncoderPool(encoderThreads, compressionLevel, false) : undefined;
    stream.onAnswer = (answer) => this.answered(answer);
    stream.onFailure = (error) => this.fail(error);
  }

  static async create(stream: UploadStream, batcher: EntrySink, chunking: Chunking, encoderThreads: number): Promise<ChunkUploader> {
    if (chunking.chunker !== 'fastcdc' && chunking.chunker !== 'rabin') throw new ProtocolError(`the server asks for an unknown chunker "${chunking.chunker}"`);
    const factory = await loadChunkerFactory({ name: chunking.chunker, minSize: chunking.minSize, avgSize: chunking.avgSize, maxSize: chunking.maxSize });
    return new ChunkUploader(stream, batcher, factory, chunking.compressionLevel, encoderThreads);
  }

  /** Cuts and hashes a file's content as it is read; returns the bytes read. The entry leaves once its chunks have. */
  async sendFile(meta: EntryMeta, content: AsyncIterable<Buffer | PreparedData> | Iterable<Buffer>): Promise<number> {
    await this.keepQueueShort();
    this.throwIfFailed();
    const chunker = this.chunkerFactory.create();
    const hashes: Buffer[] = [];
    let size = 0;
    for await (const piece of content) {
      const bytes = piece instanceof PreparedData ? piece.chunk : piece;
      size += bytes.length;
      for (const chunk of chunker.push(bytes)) await this.addChunk(chunk, hashes);
    }
    for (const chunk of chunker.finish()) await this.addChunk(chunk, hashes);
    const list = Buffer.concat(hashes);
    // The query gathers the chunks of many small files (one query, answer and chunks message per
    // file cost both processes more than the files' bytes); each entry leaves after its chunks.
    this.afterPendingChunks(async () => {
      let start = 0;
      if (list.length > CHUNK_LIST_HASHES_PER_MESSAGE * CHUNK_HASH_SIZE) {
        await this.batcher.flush();
        for (; list.length - start > CHUNK_LIST_HASHES_PER_MESSAGE * CHUNK_HASH_SIZE; start += CHUNK_LIST_HASHES_PER_MESSAGE * CHUNK_HASH_SIZE) {
          await this.stream.send({ message: { $case: 'chunkList', value: { hashes: list.subarray(start, start + CHUNK_LIST_HASHES_PER_MESSAGE * CHUNK_HASH_SIZE) } } });
        }
      }
      await this.batcher.add(batchedEntry(meta, { chunkHashes: list.subarray(start) }));
    });
    return size;
  }

  /** An entry without content (or a reference, a hard link): after everything queued before it. */
  async add(entry: BatchedEntry): Promise<void> {
    await this.keepQueueShort();
    this.throwIfFailed();
    this.afterPendingChunks(() => this.batcher.add(entry));
  }

  /** Sends everything queued and waits for it. */
  async flush(): Promise<void> {
    this.sendQuery();
    this.ordered(() => this.batcher.flush());
    await this.tail;
    this.throwIfFailed();
  }

  async close(): Promise<void> {
    clearTimeout(this.queryTimer);
    await this.encoder?.close();
  }

  /** Queues a step after the chunks gathered so far: at once if none wait, else when their query goes. */
  private afterPendingChunks(step: () => Promise<void>): void {
    if (this.query.hashes.length === 0) this.ordered(step);
    else this.query.followers.push(step);
  }

  private async addChunk(chunk: Buffer, hashes: Buffer[]): Promise<void> {
    const hash = sha256(chunk);
    hashes.push(hash);
    const key = hash.toString('latin1');
    if (this.seen.has(key)) return;
    this.seen.add(key);
    // The budget frees only as queries are answered: the one being gathered must go before waiting.
    if (!this.budget.canTake(chunk.length)) this.sendQuery();
    await this.budget.take(chunk.length);
    this.throwIfFailed();
    this.query.hashes.push(hash);
    this.query.chunks.push(chunk);
    this.query.bytes += chunk.length;
    if (this.query.hashes.length >= QUERY_HASHES || this.query.bytes >= QUERY_BYTES) {
      this.sendQuery();
      return;
    }
    this.lastJoinedAt = performance.now();
    this.queryTimer ??= setTimeout(() => this.whenQueryIdle(), QUERY_IDLE_MS);
  }

  /** Sends the query once no chunk has joined it for QUERY_IDLE_MS; else looks again when that time is up. */
  private whenQueryIdle(): void {
    this.queryTimer = undefined;
    const idleFor = performance.now() - this.lastJoinedAt;
    if (idleFor >= QUERY_IDLE_MS) this.sendQuery();
    else this.queryTimer = setTimeout(() => this.whenQueryIdle(), QUERY_IDLE_MS - idleFor);
  }

  /** Asks about the gathered hashes; the chunks the answer names are compressed as soon as it comes. */
  private sendQuery(): void {
    clearTimeout(this.queryTimer);
    this.queryTimer = undefined;
    const { hashes, chunks, bytes, followers } = this.query;
    if (hashes.length === 0) return;
    this.query = emptyQuery();
    const queryId = this.nextQueryId++;
    const encoded = new Promise<EncodedChunk[]>((resolve, reject) => {
      this.answers.set(queryId, {
        resolve: (missing) => {
          const wanted = chunks.flatMap((chunk, index) => ((missing[index >> 3] >> (index & 7)) & 1 ? [{ chunk, hash: hashes[index] }] : []));
          Promise.all(wanted.map(async ({ chunk, hash }) => {
            const result = this.encoder ? await this.encoder.encode(chunk) : (this.localCodec ??= new ChunkCodec(this.compressionLevel, false)).encode(chunk);
            return { hash, rawSize: chunk.length, codec: result.codec, payload: result.payload };
          })).then(resolve, reject);
        },
        reject,
      });
    });
    encoded.catch(() => undefined); // awaited in order below
    this.stream.send({ message: { $case: 'query', value: { queryId, hashes: Buffer.concat(hashes) } } }).catch((error) => this.fail(error));
    this.ordered(async () => {
      let batch: EncodedChunk[] = [];
      let batchBytes = 0;
      for (const chunk of await encoded) {
        if (batchBytes + chunk.payload.length > MAX_DATA_FRAME && batch.length > 0) {
          await this.stream.send({ message: { $case: 'chunks', value: { chunks: batch } } });
          batch = [];
          batchBytes = 0;
        }
        batch.push(chunk);
        batchBytes += chunk.payload.length;
        this.sent.chunks++;
        this.sent.rawBytes += chunk.rawSize;
        this.sent.encodedBytes += chunk.payload.length;
      }
      if (batch.length > 0) await this.stream.send({ message: { $case: 'chunks', value: { chunks: batch } } });
      this.budget.release(bytes);
    });
    for (const follower of followers) this.ordered(follower);
  }

  private answered(answer: ChunkAnswer): void {
    const waiting = this.answers.get(answer.queryId);
    if (waiting === undefined) {
      this.fail(new ProtocolError(`the server answered query ${answer.queryId}, which was not asked`));
      return;
    }
    this.answers.delete(answer.queryId);
    waiting.resolve(answer.missing);
  }

  /** Queues a step after every step queued before it; the first failure stops the rest. */
  private ordered(step: () => Promise<void>): void {
    this.queuedSteps++;
    this.tail = this.tail.then(() => (this.failure === undefined ? step() : undefined)).catch((error) => this.fail(error))
      .then(() => { this.queuedSteps--; });
  }

  private async keepQueueShort(): Promise<void> {
    if (this.query.followers.length >= MAX_FOLLOWERS) this.sendQuery();
    if (this.queuedSteps >= MAX_QUEUED_STEPS) await this.tail;
  }

  private fail(error: unknown): void {
    this.failure ??= error;
    this.budget.abandon();
    // Answers that will never come: the steps waiting for them end with the failure.
    for (const waiting of this.answers.values()) waiting.reject(error);
    this.answers.clear();
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}
