// Rows for the catalog benches (retention-delete.ts, gc-count-witness.ts): one client, every file its own
// one-chunk content, no packs behind them.
import { createHash } from 'node:crypto';
import type { Catalog } from '../src/chunkstore/catalog/catalog';
import type { StoredEntry } from '../src/chunkstore/catalog/records';

export function hashOf(label: string): Buffer {
  return createHash('sha256').update(label).digest();
}

/** File `index`'s entry, 200 files a folder. */
export function entryOf(index: number): Omit<StoredEntry, 'contentId'> {
  return {
    path: Buffer.from(`/data/folder-${index % 200}/file-${index}`), type: 1, mode: 0o644, uid: 0, gid: 0, user: 'root', group: 'root',
    mtimeSec: 1, mtimeNsec: 0, ctimeSec: 1, ctimeNsec: 0, inode: index, device: 1, nlink: 1, rdev: 0, size: 100,
    linkTarget: Buffer.alloc(0), xattrs: [], extents: [], inodeFlags: 0,
  };
}

/** A one-chunk content for file `index` as of `night`, known to the client as its session would record it. */
export function newContent(catalog: Catalog, clientId: number, index: number, night: number): number {
  return catalog.transaction(() => {
    const hash = hashOf(`chunk ${index} night ${night}`);
    const packId = catalog.packs.insert(`pack-${index}-${night}`, 100, 0);
    const [chunkId] = catalog.chunks.insertRows(packId, [{ hash, offset: 0, storedSize: 60, rawSize: 100 }]);
    catalog.clientChunks.add(clientId, [{ hash, storedSize: 60 }]);
    return catalog.contents.insertRows(hashOf(`content ${index} night ${night}`), 100, [chunkId]);
  });
}
