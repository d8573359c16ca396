// Rows for the catalog benches (retention-delete.ts, gc-count-witness.ts): one client, every file its own
// one-chunk content, no packs behind them.
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Catalog } from '../src/chunkstore/catalog/catalog';
import type { BackupStats, StoredEntry } from '../src/chunkstore/catalog/records';

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

/** A catalog in a temporary folder with `files` files of client node1, each its own content as of night 0. */
export function syntheticCatalog(files: number, label: string): {
  folder: string; catalog: Catalog; clientId: number; stats: BackupStats; entries: Omit<StoredEntry, 'contentId'>[]; contentIds: number[];
} {
  const folder = mkdtempSync(join(tmpdir(), `cpsbackup-${label}-bench-`));
  const catalog = new Catalog(join(folder, 'catalog.db'));
  const clientId = catalog.clients.idOf('node1');
  const stats = { files, logicalBytes: files * 100, newBytes: 0, storedBytes: 0, unreadableFiles: 0 };
  const entries = Array.from({ length: files }, (_, index) => entryOf(index));
  const contentIds = Array.from({ length: files }, (_, index) => newContent(catalog, clientId, index, 0));
  return { folder, catalog, clientId, stats, entries, contentIds };
}
