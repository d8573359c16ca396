/* Special files: mknodat for FIFOs, character and block devices and sockets, and the dev_t
 * encoding (makedev/major/minor) so a device number survives between machines as major:minor. */
#include "common.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

/* mknodat(dirfd, name, mode, rdev): mode carries the type (S_IFIFO, S_IFCHR, S_IFBLK, S_IFSOCK). */
static napi_value js_mknodat(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!get_args(env, info, 4, argv)) return NULL;
  int32_t dirfd;
  uint32_t mode;
  int64_t rdev;
  name_arg name;
  if (!get_int32(env, argv[0], "dirfd", &dirfd) || !get_uint32(env, argv[2], "mode", &mode) ||
      !get_int64(env, argv[3], "rdev", &rdev) || !get_name(env, argv[1], "name", &name)) return NULL;
  if (mknodat(dirfd, name.bytes, (mode_t)mode, (dev_t)rdev) != 0) throw_errno(env, errno, "mknodat", name.bytes, name.length);
  free_name(&name);
  return NULL;
}

/* makedev(major, minor) -> BigInt rdev */
static napi_value js_makedev(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  uint32_t major_number, minor_number;
  if (!get_uint32(env, argv[0], "major", &major_number) || !get_uint32(env, argv[1], "minor", &minor_number)) return NULL;
  return make_uint64_bigint(env, (uint64_t)makedev(major_number, minor_number));
}

/* splitDev(rdev) -> [major, minor] */
static napi_value js_split_dev(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  int64_t rdev;
  if (!get_int64(env, argv[0], "rdev", &rdev)) return NULL;
  napi_value pair;
  napi_create_array_with_length(env, 2, &pair);
  napi_set_element(env, pair, 0, make_double(env, (double)major((dev_t)rdev)));
  napi_set_element(env, pair, 1, make_double(env, (double)minor((dev_t)rdev)));
  return pair;
}

bool register_special(napi_env env, napi_value exports) {
  return export_function(env, exports, "mknodat", js_mknodat) && export_function(env, exports, "makedev", js_makedev) &&
         export_function(env, exports, "splitDev", js_split_dev);
}
