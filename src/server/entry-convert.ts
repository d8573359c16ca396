// Converts between the wire's EntryMeta and the store's entries.
// Kept apart so the two shapes can evolve independently.
import type { EntryMeta } from '../proto/cpsbackup';
import type { StoredEntry } from '../chunkstore/store';

/** The store's entry for a received EntryMeta; `size` is the file's size as stored. */
export function newEntryOf(meta: EntryMeta, size: number): Omit<StoredEntry, 'contentId'> {
  return {
    path: Buffer.from(meta.path, 'utf8'), type: meta.type, mode: meta.mode, uid: meta.uid, gid: meta.gid, user: '', group: '',
    mtimeSec: meta.mtimeSec, mtimeNsec: meta.mtimeNsec, ctimeSec: meta.ctimeSec, ctimeNsec: meta.ctimeNsec,
    inode: meta.inode, device: meta.device, nlink: 1, rdev: 0, size, linkTarget: Buffer.from(meta.linkTarget, 'utf8'),
    xattrs: [], extents: [],
  };
}

export function entryMetaOf(entry: StoredEntry): EntryMeta {
  return {
    path: entry.path.toString('utf8'), type: entry.type, mode: entry.mode, uid: entry.uid, gid: entry.gid,
    mtimeSec: entry.mtimeSec, mtimeNsec: entry.mtimeNsec, ctimeSec: entry.ctimeSec, ctimeNsec: entry.ctimeNsec,
    inode: entry.inode, device: entry.device, size: entry.size, linkTarget: entry.linkTarget.toString('utf8'),
  };
}
