/* Data extents of a file by lseek(SEEK_DATA/SEEK_HOLE): a backup reads only the data of a sparse
 * file and a restore recreates its holes. A filesystem without hole support reports one extent. */
#include "common.h"

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

bool register_extents(napi_env env, napi_value exports) {
  return export_function(env, exports, "dataExtents", js_data_extents) &&
         export_function(env, exports, "firstHole", js_first_hole);
}
