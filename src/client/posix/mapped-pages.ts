// Makes a file's later writes through a shared mapping show in its ctime (native/writeback.c): the
// kernel stamps a write through mmap at the first fault on a clean page, never on a page already dirty.
import { posixAddon } from './addon';

/**
 * Writes back the open file's dirty pages, so that any write through a mapping after this faults and
 * moves its ctime. False where that cannot be had: tmpfs, ramfs and hugetlbfs never write back (a page
 * written through a mapping once takes every later write silently), or the writeback failed.
 */
export function cleanMappedPages(fd: number): boolean {
  return posixAddon().cleanMappedPages(fd);
}

/**
 * File systems where cleanMappedPages cannot clean what a mapping writes (native/writeback.c keeps the
 * same list): tmpfs, ramfs and hugetlbfs never write back; overlayfs and eCryptfs stack on another one.
 * A file there is never taken as unchanged: a stat cannot tell that its content stayed as read.
 */
const NEVER_CLEANED_FILE_SYSTEMS: ReadonlySet<number> = new Set([0x01021994, 0x858458f6, 0x958458f6, 0x794c7630, 0xf15f]);

export function isNeverCleanedFileSystem(fileSystemType: number): boolean {
  return NEVER_CLEANED_FILE_SYSTEMS.has(fileSystemType);
}
