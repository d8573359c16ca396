// Converts between the wire's EntryMeta and the catalog's StoredEntry.
// Kept apart so the two shapes can evolve independently.
import type { EntryMeta } from '../proto/cpsbackup';
import type { StoredEntry } from '../chunkstore/catalog/records';

export function storedEntryOf(meta: EntryMeta, size: number, contentId: number | null): StoredEntry {
  return {
    path: meta.path, type: meta.type, mode: meta.mode, uid: meta.uid, gid: meta.gid,
    mtimeSec: meta.mtimeSec, mtimeNsec: meta.mtimeNsec, ctimeSec: meta.ctimeSec, ctimeNsec: meta.ctimeNsec,
    inode: meta.inode, device: meta.device, size, linkTarget: meta.linkTarget, contentId,
  };
}

export function entryMetaOf(entry: StoredEntry): EntryMeta {
  return {
    path: entry.path, type: entry.type, mode: entry.mode, uid: entry.uid, gid: entry.gid,
    mtimeSec: entry.mtimeSec, mtimeNsec: entry.mtimeNsec, ctimeSec: entry.ctimeSec, ctimeNsec: entry.ctimeNsec,
    inode: entry.inode, device: entry.device, size: entry.size, linkTarget: entry.linkTarget,
  };
}
