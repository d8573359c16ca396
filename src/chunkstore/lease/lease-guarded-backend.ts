// The bucket as the store writes to it: every put and delete first asks the lease whether this
// server still holds the bucket, so no path (pack uploads, GC, recovery's orphan sweep, doomed-pack
// deletes, snapshots, aborting abandoned uploads) writes after the lease was lost or went unrenewed.
// Reads pass straight through.
import type { PackBackend, StoredObject } from '../backend/pack-backend';

export class LeaseGuardedBackend implements PackBackend {
  readonly kind: string;
  readonly location: string;

  constructor(readonly inner: PackBackend, private readonly assertHeld: () => void) {
    this.kind = inner.kind;
    this.location = inner.location;
  }

  async putPack(name: string, stagedFile: string): Promise<void> {
    this.assertHeld();
    return this.inner.putPack(name, stagedFile);
  }

  readRange(name: string, offset: number, length: number): Promise<Buffer> {
    return this.inner.readRange(name, offset, length);
  }

  listPacks(): AsyncIterable<StoredObject> {
    return this.inner.listPacks();
  }

  async deletePack(name: string): Promise<void> {
    this.assertHeld();
    return this.inner.deletePack(name);
  }

  async putBlob(name: string, stagedFile: string): Promise<void> {
    this.assertHeld();
    return this.inner.putBlob(name, stagedFile);
  }

  getBlob(name: string, toFile: string): Promise<void> {
    return this.inner.getBlob(name, toFile);
  }

  listBlobs(): AsyncIterable<StoredObject> {
    return this.inner.listBlobs();
  }

  async deleteBlob(name: string): Promise<void> {
    this.assertHeld();
    return this.inner.deleteBlob(name);
  }

  async abortIncompleteUploads(olderThanMs: number): Promise<number> {
    if (this.inner.abortIncompleteUploads === undefined) return 0;
    this.assertHeld();
    return this.inner.abortIncompleteUploads(olderThanMs);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
