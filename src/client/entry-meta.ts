// Builds the wire's EntryMeta from lstat results, and decides whether a file is unchanged since the parent.
// Times travel as seconds plus nanoseconds: nanoseconds since 1970 do not fit a double.
import type { BigIntStats } from 'node:fs';
import { EntryType, type EntryMeta } from '../proto/cpsbackup';

const BILLION = 1_000_000_000n;

export function entryMetaFromStats(path: string, type: EntryType, stats: BigIntStats, linkTarget = ''): EntryMeta {
  return {
    path, type,
    mode: Number(stats.mode & 0o7777n),
    uid: Number(stats.uid), gid: Number(stats.gid),
    mtimeSec: Number(stats.mtimeNs / BILLION), mtimeNsec: Number(stats.mtimeNs % BILLION),
    ctimeSec: Number(stats.ctimeNs / BILLION), ctimeNsec: Number(stats.ctimeNs % BILLION),
    inode: Number(stats.ino), device: Number(stats.dev),
    size: type === EntryType.ENTRY_TYPE_FILE ? Number(stats.size) : 0,
    linkTarget,
  };
}

/** The same rule as restic and burp: size, mtime, ctime, inode and mode all equal means unchanged. */
export function isUnchanged(current: EntryMeta, parent: EntryMeta | undefined): boolean {
  return parent !== undefined
    && current.type === EntryType.ENTRY_TYPE_FILE && parent.type === EntryType.ENTRY_TYPE_FILE
    && current.size === parent.size
    && current.mtimeSec === parent.mtimeSec && current.mtimeNsec === parent.mtimeNsec
    && current.ctimeSec === parent.ctimeSec && current.ctimeNsec === parent.ctimeNsec
    && current.inode === parent.inode && current.mode === parent.mode;
}
