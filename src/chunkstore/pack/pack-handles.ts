// Keeps a few pack files open across reads: a restore reads many small chunks from the same
// packs, and opening the pack for each one cost more than the read itself.
import { open, type FileHandle } from 'node:fs/promises';

export class PackHandles {
  private readonly handles = new Map<string, Promise<FileHandle>>();

  constructor(private readonly capacity = 32) {}

  /** The open handle for a pack path; rejects like open() does (ENOENT for a missing pack). */
  get(path: string): Promise<FileHandle> {
    const existing = this.handles.get(path);
    if (existing) {
      // Map order is insertion order: re-inserting marks the handle as most recently used.
      this.handles.delete(path);
      this.handles.set(path, existing);
      return existing;
    }
    const opened = open(path, 'r');
    this.handles.set(path, opened);
    opened.catch(() => {
      if (this.handles.get(path) === opened) this.handles.delete(path);
    });
    if (this.handles.size > this.capacity) {
      const [oldestPath, oldest] = this.handles.entries().next().value as [string, Promise<FileHandle>];
      this.handles.delete(oldestPath);
      // A read in flight on it keeps working: close waits for nothing, but Node defers the close of a busy handle.
      oldest.then((handle) => handle.close(), () => undefined).catch(() => undefined);
    }
    return opened;
  }

  /** Closes the handle of a pack about to be deleted. */
  async forget(path: string): Promise<void> {
    const existing = this.handles.get(path);
    if (!existing) return;
    this.handles.delete(path);
    await existing.then((handle) => handle.close(), () => undefined).catch(() => undefined);
  }

  async close(): Promise<void> {
    const all = [...this.handles.values()];
    this.handles.clear();
    await Promise.all(all.map((handle) => handle.then((opened) => opened.close(), () => undefined)));
  }
}
