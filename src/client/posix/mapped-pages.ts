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
