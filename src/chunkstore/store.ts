// The chunk store: a folder with the catalog (catalog.db) and pack files, opened once by the server.
// Opening recovers from any crash; the chunker a store was created with is recorded and enforced.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Catalog } from './catalog/catalog';
import { ChunkCodec, type EncodedChunk } from './codec';
import { EncoderPool } from './encoder-pool';
import { availableParallelism } from 'node:os';
import { loadChunkerFactory } from './chunker/registry';
import type { ChunkerFactory, ChunkerParams } from './chunker/chunker';
import { recoverStore, type RecoveryReport } from './recovery';
import { collectGarbage, type GarbageReport } from './gc';
import { StoreLock } from './store-lock';
import { ConfigError, CorruptError } from '../common/errors';
import { acquireProcessLock } from './process-lock';

export interface StoreOptions {
  /** For a new store; an existing one keeps its own unless isChunkerChosen (then they must match). */
  readonly chunker: ChunkerParams;
  /** The configuration names a chunker: a store made with another is refused. Default true. */
  readonly isChunkerChosen?: boolean;
  readonly compressionLevel: number;
  /** The config file that chose the chunker, named in errors. */
  readonly configFile?: string;
  /** Worker threads compressing chunks; 0 compresses on the calling thread. Default: one less than the cores (the main thread chunks and hashes), between 1 and 3. */
  readonly encoderThreads?: number;
}

function recordedChunker(recorded: string, catalogFile: string): ChunkerParams {
  let params: Partial<ChunkerParams>;
  try {
    params = JSON.parse(recorded) as Partial<ChunkerParams>;
  } catch {
    params = {};
  }
  const { name, minSize, avgSize, maxSize } = params;
  if ((name !== 'fastcdc' && name !== 'rabin') || ![minSize, avgSize, maxSize].every((size) => Number.isInteger(size) && (size as number) > 0)) {
    throw new CorruptError(`${catalogFile}: the recorded chunker ${JSON.stringify(recorded)} is not readable`);
  }
  return { name, minSize: minSize!, avgSize: avgSize!, maxSize: maxSize! };
}

export class ChunkStore {
  readonly lock = new StoreLock();
  readonly recovery: RecoveryReport;
  private readonly encoderPool: EncoderPool | undefined;
  private readonly localCodec: ChunkCodec;

  private constructor(
    readonly directory: string,
    readonly catalog: Catalog,
    readonly chunkerFactory: ChunkerFactory,
    readonly compressionLevel: number,
    recovery: RecoveryReport,
    private readonly releaseProcessLock: () => Promise<void>,
    encoderThreads: number,
  ) {
    this.recovery = recovery;
    this.localCodec = new ChunkCodec(compressionLevel);
    this.encoderPool = encoderThreads > 0 ? new EncoderPool(encoderThreads, compressionLevel) : undefined;
  }

  static async open(directory: string, options: StoreOptions): Promise<ChunkStore> {
    await mkdir(join(directory, 'packs'), { recursive: true, mode: 0o700 });
    const releaseProcessLock = await acquireProcessLock(directory);
    let catalog: Catalog | undefined;
    try {
      catalog = new Catalog(join(directory, 'catalog.db'));
      const chunker = ChunkStore.storeChunker(catalog, options);
      const chunkerFactory = await loadChunkerFactory(chunker);
      const recovery = await recoverStore(directory, catalog, new ChunkCodec(options.compressionLevel));
      const encoderThreads = options.encoderThreads ?? Math.max(1, Math.min(availableParallelism() - 1, 3));
      return new ChunkStore(directory, catalog, chunkerFactory, options.compressionLevel, recovery, releaseProcessLock, encoderThreads);
    } catch (error) {
      catalog?.close();
      await releaseProcessLock();
      throw error;
    }
  }

  /** Dedup only works between streams cut by the same chunker, so a store keeps the one it began with. */
  private static storeChunker(catalog: Catalog, options: StoreOptions): ChunkerParams {
    const recorded = catalog.getMeta('chunker');
    const wanted = JSON.stringify(options.chunker);
    if (recorded === undefined) {
      catalog.setMeta('chunker', wanted);
      return options.chunker;
    }
    // Built-in defaults may change between versions; a store made with older ones keeps them.
    if (recorded !== wanted && options.isChunkerChosen === false) return recordedChunker(recorded, catalog.file);
    if (recorded !== wanted) {
      throw new ConfigError(options.configFile ?? catalog.file, undefined,
        `the store was created with chunker ${recorded} but the configuration asks for ${wanted}; ` +
        `use the store's settings or a new directory`);
    }
    return options.chunker;
  }

  /** Compresses and verifies one chunk, on a worker thread when the store has them. */
  encode(raw: Buffer): Promise<EncodedChunk> {
    // Small chunks go to the worker too: the pool sends them in groups, and compressing them here
    // took a fifth of the main thread's time on a tree of small files.
    if (!this.encoderPool) return Promise.resolve(this.localCodec.encode(raw));
    return this.encoderPool.encode(raw);
  }

  newCodec(): ChunkCodec {
    return new ChunkCodec(this.compressionLevel);
  }

  /** Runs garbage collection alone on the store: waits for running backups and restores first. */
  async collectGarbage(): Promise<GarbageReport> {
    const release = await this.lock.acquireExclusive();
    try {
      return await collectGarbage(this.directory, this.catalog, this.newCodec());
    } finally {
      release();
    }
  }

  async close(): Promise<void> {
    await this.encoderPool?.close();
    this.catalog.close();
    await this.releaseProcessLock();
  }
}
