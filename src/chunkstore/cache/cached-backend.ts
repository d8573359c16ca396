// A PackBackend whose range reads go through the local PackCache first: restores and GC compaction read
// recently used packs from the server's disk instead of the bucket. Everything else passes straight through;
// a pack deleted from the bucket leaves the cache too. A range is kept only once its records opened (readOpened):
// bytes damaged in the bucket were kept before they were verified, and served after the object was put right.
import type { PackBackend, StoredObject } from '../backend/pack-backend';
import type { PackCache } from './pack-cache';
import { errorMessage } from '../../common/errors';

export class CachedBackend implements PackBackend {
  readonly kind: string;
  readonly location: string;
  /** Cache writes still under way, awaited by close(). */
  private readonly writes = new Set<Promise<void>>();

  constructor(readonly inner: PackBackend, readonly cache: PackCache) {
    this.kind = inner.kind;
    this.location = inner.location;
  }

  /** Served from the cache when it holds the range; what the bucket returns is not kept, as nothing verified it. */
  async readRange(name: string, offset: number, length: number): Promise<Buffer> {
    return await this.cache.get(name, offset, length) ?? this.inner.readRange(name, offset, length);
  }

  async readOpened<T>(name: string, offset: number, length: number, open: (range: Buffer) => T): Promise<T> {
    const cached = await this.cache.get(name, offset, length);
    if (cached !== undefined) {
      try {
        return open(cached);
      } catch (error) {
        // Its digest held, so it was kept damaged (an older version kept ranges before they were verified): the bucket decides.
        await this.cache.discard(name, offset, length, errorMessage(error));
      }
    }
    const range = await this.inner.readRange(name, offset, length);
    const opened = open(range); // a throw keeps nothing: the next read goes to the bucket again
    // Kept in the background: the reader need not wait for the disk write.
    const write = this.cache.put(name, offset, range).finally(() => this.writes.delete(write));
    this.writes.add(write);
    return opened;
  }

  putPack(name: string, stagedFile: string): Promise<void> {
    return this.inner.putPack(name, stagedFile);
  }

  listPacks(): AsyncIterable<StoredObject> {
    return this.inner.listPacks();
  }

  async deletePack(name: string): Promise<void> {
    await this.inner.deletePack(name);
    await this.cache.dropPack(name);
  }

  putBlob(name: string, stagedFile: string): Promise<void> {
    return this.inner.putBlob(name, stagedFile);
  }

  getBlob(name: string, toFile: string): Promise<void> {
    return this.inner.getBlob(name, toFile);
  }

  listBlobs(): AsyncIterable<StoredObject> {
    return this.inner.listBlobs();
  }

  deleteBlob(name: string): Promise<void> {
    return this.inner.deleteBlob(name);
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.writes]);
    await this.inner.close();
  }
}
