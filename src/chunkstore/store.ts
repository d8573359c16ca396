// The chunk store: a folder with the catalog (catalog.db) and pack files, opened once by the server.
// Opening recovers from any crash; the chunker a store was created with is recorded and enforced.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Catalog } from './catalog/catalog';
import { ChunkCodec } from './codec';
import { loadChunkerFactory } from './chunker/registry';
import type { ChunkerFactory, ChunkerParams } from './chunker/chunker';
import { recoverStore, type RecoveryReport } from './recovery';
import { collectGarbage, type GarbageReport } from './gc';
import { StoreLock } from './store-lock';
import { ConfigError } from '../common/errors';
import { acquireProcessLock } from './process-lock';

export interface StoreOptions {
  readonly chunker: ChunkerParams;
  readonly compressionLevel: number;
  /** The config file that chose the chunker, named in errors. */
  readonly configFile?: string;
}

export class ChunkStore {
  readonly lock = new StoreLock();
  readonly recovery: RecoveryReport;

  private constructor(
    readonly directory: string,
    readonly catalog: Catalog,
    readonly chunkerFactory: ChunkerFactory,
    readonly compressionLevel: number,
    recovery: RecoveryReport,
    private readonly releaseProcessLock: () => Promise<void>,
  ) {
    this.recovery = recovery;
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
      return new ChunkStore(directory, catalog, chunkerFactory, options.compressionLevel, recovery, releaseProcessLock);
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
    if (recorded !== wanted) {
      throw new ConfigError(options.configFile ?? catalog.file, undefined,
        `the store was created with chunker ${recorded} but the configuration asks for ${wanted}; ` +
        `use the store's settings or a new directory`);
    }
    return options.chunker;
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
    this.catalog.close();
    await this.releaseProcessLock();
  }
}
