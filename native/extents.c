/* Data extents of a file by lseek(SEEK_DATA/SEEK_HOLE): a backup reads only the data of a sparse
 * file and a restore recreates its holes. A filesystem without hole support reports one extent. */
#include "common.h"

#include <linux/fiemap.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

static bool push_extent(napi_env env, napi_value list, uint32_t index, off_t offset, off_t length) {
  napi_value pair;
  if (napi_create_array_with_length(env, 2, &pair) != napi_ok) return false;
  napi_set_element(env, pair, 0, make_double(env, (double)offset));
  napi_set_element(env, pair, 1, make_double(env, (double)length));
  return napi_set_element(env, list, index, pair) == napi_ok;
}

/* dataExtents(fd) -> [offset, length][] in ascending order; empty for an empty or all-hole file. */
static napi_value js_data_extents(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  int32_t fd;
  if (!get_int32(env, argv[0], "fd", &fd)) return NULL;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    throw_errno(env, errno, "fstat", NULL, 0);
    return NULL;
  }
  napi_value list;
  napi_create_array(env, &list);
  uint32_t count = 0;
  off_t position = 0;
  while (position < st.st_size) {
    off_t data = lseek(fd, position, SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) break; /* only a hole remains up to the end */
      if (errno == EINVAL && position == 0) {
        /* No SEEK_DATA here (old filesystem): the whole file counts as data. */
        push_extent(env, list, 0, 0, st.st_size);
        return list;
      }
      throw_errno(env, errno, "lseek", NULL, 0);
      return NULL;
    }
    if (data >= st.st_size) break;
    off_t hole = lseek(fd, data, SEEK_HOLE);
    if (hole < 0) {
      throw_errno(env, errno, "lseek", NULL, 0);
      return NULL;
    }
    if (hole > st.st_size) hole = st.st_size; /* the file grew while we looked: keep the size seen */
    if (!push_extent(env, list, count++, data, hole - data)) return NULL;
    position = hole;
  }
  return list;
}

/* firstHole(fd) -> the offset of the file's first hole: its end when it has none, null where the
 * filesystem cannot tell (no SEEK_HOLE: it counts as dense). One lseek, for the files too small to be
 * worth a full dataExtents walk on the chance their blocks hide a hole. */
static napi_value js_first_hole(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  int32_t fd;
  if (!get_int32(env, argv[0], "fd", &fd)) return NULL;
  off_t hole = lseek(fd, 0, SEEK_HOLE);
  if (hole < 0) {
    if (errno == EINVAL || errno == ESPIPE) {
      napi_value none;
      napi_get_null(env, &none);
      return none;
    }
    throw_errno(env, errno, "lseek", NULL, 0);
    return NULL;
  }
  return make_double(env, (double)hole);
}

/* How many extents one FIEMAP call asks for: the call is repeated from the last one's end. */
#define FIEMAP_BATCH 128

/* writtenExtents(fd) -> [offset, length][] of the extents FIEMAP maps and does not flag unwritten, in
 * ascending order (merged where they meet); null where the filesystem has no FIEMAP (tmpfs, ZFS, most
 * network and FUSE ones). Unlike SEEK_DATA it tells a range fallocate reserved and nobody wrote from
 * written zeros, also after a read put the reserved range in the page cache (ext4 and XFS then call it
 * data). FIEMAP_FLAG_SYNC first writes the file's dirty pages back: without it, zeros just written into a
 * reserved range still read as unwritten on ext4 until writeback (found by review). Called only to compare
 * an existing sparse file in a restore. */
static napi_value js_written_extents(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  int32_t fd;
  if (!get_int32(env, argv[0], "fd", &fd)) return NULL;
  size_t bytes = sizeof(struct fiemap) + FIEMAP_BATCH * sizeof(struct fiemap_extent);
  struct fiemap *map = calloc(1, bytes);
  if (map == NULL) {
    throw_errno(env, ENOMEM, "calloc", NULL, 0);
    return NULL;
  }
  napi_value list;
  napi_create_array(env, &list);
  uint32_t count = 0;
  double last_offset = -1, last_length = 0;
  uint64_t start = 0;
  for (;;) {
    memset(map, 0, bytes);
    map->fm_start = start;
    map->fm_length = FIEMAP_MAX_OFFSET - start;
    map->fm_extent_count = FIEMAP_BATCH;
    map->fm_flags = FIEMAP_FLAG_SYNC;
    if (ioctl(fd, FS_IOC_FIEMAP, map) != 0) {
      int error = errno;
      free(map);
      if (error == EOPNOTSUPP || error == ENOTTY || error == EINVAL || error == ENOSYS) {
        napi_value none;
        napi_get_null(env, &none);
        return none;
      }
      throw_errno(env, error, "ioctl FS_IOC_FIEMAP", NULL, 0);
      return NULL;
    }
    if (map->fm_mapped_extents == 0) break;
    bool is_last = false;
    for (uint32_t index = 0; index < map->fm_mapped_extents; index++) {
      const struct fiemap_extent *extent = &map->fm_extents[index];
      if (extent->fe_flags & FIEMAP_EXTENT_LAST) is_last = true;
      start = extent->fe_logical + extent->fe_length;
      if (extent->fe_flags & FIEMAP_EXTENT_UNWRITTEN) continue;
      double offset = (double)extent->fe_logical, length = (double)extent->fe_length;
      if (last_offset >= 0 && last_offset + last_length == offset) {
        last_length += length;
        continue;
      }
      if (last_offset >= 0 && !push_extent(env, list, count++, (off_t)last_offset, (off_t)last_length)) {
        free(map);
        return NULL;
      }
      last_offset = offset;
      last_length = length;
    }
    if (is_last) break;
  }
  free(map);
  if (last_offset >= 0 && !push_extent(env, list, count++, (off_t)last_offset, (off_t)last_length)) return NULL;
  return list;
}

bool register_extents(napi_env env, napi_value exports) {
  return export_function(env, exports, "dataExtents", js_data_extents) &&
         export_function(env, exports, "firstHole", js_first_hole) &&
         export_function(env, exports, "writtenExtents", js_written_extents);
}
