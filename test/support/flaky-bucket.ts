// A folder standing in for a bucket for the store's snapshot tests: kind 's3', so a store snapshots its
// catalog to it, and its catalog puts can be refused or held back.
import type { LocalBackend } from '../../src/chunkstore/backend/local-backend';
import type { PackBackend, StoredObject } from '../../src/chunkstore/backend/pack-backend';

/** A folder standing in for a bucket (kind 's3', so the store snapshots its catalog to it) whose catalog puts can be made to fail. */
export class FlakyBucket implements PackBackend {
  readonly kind = 's3';
  isRefusingSnapshots = false;
  snapshotAttempts = 0;
  /** Awaited before each catalog put, with its attempt number (from 1); a rejection fails that put. */
  beforeSnapshotPut: ((attempt: number) => Promise<void>) | undefined;

  constructor(private readonly folder: LocalBackend) {}

  get location(): string {
    return `flaky ${this.folder.location}`;
  }

  putPack(name: string, stagedFile: string): Promise<void> {
    return this.folder.putPack(name, stagedFile);
  }

  readRange(name: string, offset: number, length: number): Promise<Buffer> {
    return this.folder.readRange(name, offset, length);
  }

  listPacks(): AsyncIterable<StoredObject> {
    return this.folder.listPacks();
  }

  deletePack(name: string): Promise<void> {
    return this.folder.deletePack(name);
  }

  async putBlob(name: string, stagedFile: string): Promise<void> {
    if (name.startsWith('catalog-')) {
      this.snapshotAttempts++;
      await this.beforeSnapshotPut?.(this.snapshotAttempts);
      if (this.isRefusingSnapshots) throw new Error('503 SlowDown (refused by the test)');
    }
    await this.folder.putBlob(name, stagedFile);
  }

  getBlob(name: string, toFile: string): Promise<void> {
    return this.folder.getBlob(name, toFile);
  }

  listBlobs(): AsyncIterable<StoredObject> {
    return this.folder.listBlobs();
  }

  deleteBlob(name: string): Promise<void> {
    return this.folder.deleteBlob(name);
  }

  async close(): Promise<void> {
    // The folder outlives each store that opens it, as a bucket does.
  }
}
