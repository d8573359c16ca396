// A bounded LRU of verified folder fds keyed by their entry path: restores touch tens of thousands of
// folders, and re-walking from the root for each entry would cost a syscall per component every time.
import { closeSync } from 'node:fs';

interface CachedFolder {
  readonly fd: number;
  /** Leases in use: a leased fd is never closed by eviction, so an operation's fd stays valid. */
  leases: number;
}

export class FolderCache {
  private readonly folders = new Map<string, CachedFolder>();
  private isClosed = false;

  /** capacity: how many fds may stay open while unused; leased ones may briefly exceed it. */
  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 2) throw new RangeError(`folder cache capacity must be an integer ≥ 2, got ${capacity}`);
  }

  get size(): number {
    return this.folders.size;
  }

  /** Leases the fd cached under key (and marks it most recently used), or undefined. */
  lease(key: string): number | undefined {
    const folder = this.folders.get(key);
    if (folder === undefined) return undefined;
    this.folders.delete(key);
    this.folders.set(key, folder);
    folder.leases += 1;
    return folder.fd;
  }

  /**
   * Adds a freshly opened fd, already leased once, and closes the least recently used unleased fds
   * beyond capacity. Callers add only keys they did not find, and every walk is synchronous, so a key
   * is never added twice.
   */
  addLeased(key: string, fd: number): void {
    if (this.folders.has(key)) throw new Error(`folder cache: ${JSON.stringify(key)} is already cached`);
    this.folders.set(key, { fd, leases: 1 });
    this.evict();
  }

  release(key: string): void {
    const folder = this.folders.get(key);
    if (folder !== undefined && folder.leases > 0) folder.leases -= 1;
    this.evict();
  }

  /** Forgets and closes every cached folder at or below key (after its removal); none may be leased then. */
  forgetBelow(key: string): void {
    for (const [cachedKey, folder] of [...this.folders]) {
      if (cachedKey === key || cachedKey.startsWith(`${key}/`)) {
        if (folder.leases > 0) throw new Error(`folder cache: ${JSON.stringify(cachedKey)} is in use`);
        this.folders.delete(cachedKey);
        closeSync(folder.fd);
      }
    }
  }

  /** Closes every unleased fd now and each leased one at its last release (a temp file still open in it). */
  closeAll(): void {
    this.isClosed = true;
    this.evict();
  }

  private evict(): void {
    const capacity = this.isClosed ? 0 : this.capacity;
    if (this.folders.size <= capacity) return;
    for (const [key, folder] of this.folders) {
      if (this.folders.size <= capacity) break;
      if (folder.leases > 0) continue;
      this.folders.delete(key);
      closeSync(folder.fd);
    }
  }
}
