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

/* cleanMappedPages(fd): true when the file's pages are written back and clean now (a later write through
 * a mapping faults and moves its ctime); false where that cannot be told: its file system never writes
 * back (tmpfs, ramfs, hugetlbfs), or the writeback or fstatfs failed (EIO of a failing disk). */
static napi_value js_clean_mapped_pages(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  int32_t fd;
  if (!get_int32(env, argv[0], "fd", &fd)) return NULL;
  bool is_clean = true;
  struct statfs described;
  int result;
  RETRY_EINTR(result, fstatfs(fd, &described));
  if (result != 0 || described.f_type == TMPFS_MAGIC || described.f_type == RAMFS_MAGIC || described.f_type == HUGETLBFS_MAGIC) {
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
