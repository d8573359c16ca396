// The entry a dump source's FIFO becomes in a backup, and how a restore tells it from a FIFO the walk
// read with read_all_fifos: both carry content (ENTRY_TYPE_FIFO_CONTENT), only a dump is loaded.
import { EntryType, type EntryMeta } from '../proto/cpsbackup';

const NOTHING = Buffer.alloc(0);

/**
 * Dump FIFOs carry no useful metadata: they come back as private regular files stamped with the backup
 * time. No inode, device or ctime: that is what marks the entry as a dump (isDumpEntry).
 */
export function dumpEntryMeta(path: string): EntryMeta {
  const now = Date.now();
  return {
    path: Buffer.from(path), type: EntryType.ENTRY_TYPE_FIFO_CONTENT, mode: 0o600, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0,
    user: '', group: '', mtimeSec: Math.floor(now / 1000), mtimeNsec: (now % 1000) * 1_000_000, ctimeSec: 0, ctimeNsec: 0,
    inode: 0, device: 0, nlink: 1, rdev: 0, size: 0, linkTarget: NOTHING, xattrs: [], extents: [], hardlinkTarget: NOTHING, inodeFlags: 0, inodeFlagsKnown: false, damage: '',
  };
}

/**
 * A dump source's file, to be loaded after a restore. A FIFO read with read_all_fifos has the same type
 * but was walked, so it has the inode and ctime of a file that exists: it holds what was piped through
 * it and is restored as any file (overwrite policy, recorded mode and owner), never taken for a dump.
 * The marker needs no new entry type, so backups made before it read the same way.
 */
export function isDumpEntry(meta: Pick<EntryMeta, 'type' | 'inode' | 'device' | 'ctimeSec' | 'ctimeNsec'>): boolean {
  return meta.type === EntryType.ENTRY_TYPE_FIFO_CONTENT && meta.inode === 0 && meta.device === 0 && meta.ctimeSec === 0 && meta.ctimeNsec === 0;
}
