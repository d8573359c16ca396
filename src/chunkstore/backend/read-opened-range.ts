// A range read whose bytes are opened (records unsealed) before anything may keep them: a read cache in front of
// the bucket keeps a range only once it opened, so bytes damaged in the bucket are never served from the cache
// after the object was put right.
import type { PackBackend } from './pack-backend';

/** What `open` makes of the range; its throw (damage) rejects. Through the backend's readOpened when it keeps reads. */
export async function readOpenedRange<T>(backend: PackBackend, name: string, offset: number, length: number, open: (range: Buffer) => T): Promise<T> {
  if (backend.readOpened !== undefined) return backend.readOpened(name, offset, length, open);
  return open(await backend.readRange(name, offset, length));
}
