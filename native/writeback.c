/* Writes back a file's dirty pages before a backup reads it, so that a write through a shared mapping
 * (mmap: LMDB, SQLite's mmap mode, a program's own) after the read shows in its ctime: the kernel stamps
 * mtime and ctime at the first write fault on a clean page only, and a page already dirty takes later
 * writes silently until writeback cleans it (up to ~35 s), on tmpfs and ramfs (no writeback) for ever.
 * Read while dirty, a file changed so kept its stat, and the unchanged check kept the old content in
 * every later backup, exit 0. */
#include "common.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/vfs.h>

#ifndef RAMFS_MAGIC
#define RAMFS_MAGIC 0x858458f6
#endif
#ifndef HUGETLBFS_MAGIC
#define HUGETLBFS_MAGIC 0x958458f6
#endif
#ifndef OVERLAYFS_SUPER_MAGIC
#define OVERLAYFS_SUPER_MAGIC 0x794c7630
#endif
#ifndef ECRYPTFS_SUPER_MAGIC
#define ECRYPTFS_SUPER_MAGIC 0xf15f
#endif

/* Where sync_file_range cannot clean the pages a mapping writes: no writeback at all (tmpfs, ramfs,
 * hugetlbfs), or a file system stacked on another one (overlayfs, eCryptfs), whose mapping holds the
 * lower file's pages: there it returned 0 and a write through a mapping still moved no ctime. */
static bool is_never_cleaned(long type) {
  return type == TMPFS_MAGIC || type == RAMFS_MAGIC || type == HUGETLBFS_MAGIC || type == OVERLAYFS_SUPER_MAGIC ||
         type == ECRYPTFS_SUPER_MAGIC;
}

/* cleanMappedPages(fd): true when the file's pages are written back and clean now (a later write through
 * a mapping faults and moves its ctime); false where that cannot be told: its file system never writes
 * back (tmpfs, ramfs, hugetlbfs) or stacks on another (overlayfs, eCryptfs), or the writeback or fstatfs failed
 * (EIO of a failing disk). */
static napi_value js_clean_mapped_pages(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  int32_t fd;
  if (!get_int32(env, argv[0], "fd", &fd)) return NULL;
  bool is_clean = true;
  struct statfs described;
  int result;
  RETRY_EINTR(result, fstatfs(fd, &described));
  if (result != 0 || is_never_cleaned((long)described.f_type)) {
    is_clean = false;
  } else {
    RETRY_EINTR(result, sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER));
    if (result != 0) is_clean = false;
  }
  napi_value answer;
  if (napi_get_boolean(env, is_clean, &answer) != napi_ok) return NULL;
  return answer;
}

bool register_writeback(napi_env env, napi_value exports) {
  return export_function(env, exports, "cleanMappedPages", js_clean_mapped_pages);
}
