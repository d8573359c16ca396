/* Access and modification times to the nanosecond: utimensat on a name (never following a final
 * symlink when asked) and futimens on an fd. Times are BigInt nanoseconds since the epoch; null omits one. */
#include "common.h"

#include <fcntl.h>
#include <sys/stat.h>

/* Floor division, so times before 1970 keep a non-negative tv_nsec as the kernel requires. */
static bool get_time(napi_env env, napi_value value, const char *what, struct timespec *out) {
  if (is_nullish(env, value)) {
    out->tv_sec = 0;
    out->tv_nsec = UTIME_OMIT;
    return true;
  }
  int64_t nanoseconds;
  if (!get_int64(env, value, what, &nanoseconds)) return false;
  int64_t seconds = nanoseconds / 1000000000LL;
  int64_t remainder = nanoseconds % 1000000000LL;
  if (remainder < 0) {
    remainder += 1000000000LL;
    seconds -= 1;
  }
  out->tv_sec = (time_t)seconds;
  out->tv_nsec = (long)remainder;
  return true;
}

/* utimensat(dirfd, name, atimeNs | null, mtimeNs | null, flags) */
static napi_value js_utimensat(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!get_args(env, info, 5, argv)) return NULL;
  int32_t dirfd, flags;
  struct timespec times[2];
  name_arg name;
  if (!get_int32(env, argv[0], "dirfd", &dirfd) || !get_time(env, argv[2], "atime", &times[0]) ||
      !get_time(env, argv[3], "mtime", &times[1]) || !get_int32(env, argv[4], "flags", &flags) ||
      !get_name(env, argv[1], "name", &name)) return NULL;
  if (utimensat(dirfd, name.bytes, times, flags) != 0) throw_errno(env, errno, "utimensat", name.bytes, name.length);
  free_name(&name);
  return NULL;
}

/* futimens(fd, atimeNs | null, mtimeNs | null) */
static napi_value js_futimens(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;
  int32_t fd;
  struct timespec times[2];
  if (!get_int32(env, argv[0], "fd", &fd) || !get_time(env, argv[1], "atime", &times[0]) ||
      !get_time(env, argv[2], "mtime", &times[1])) return NULL;
  if (futimens(fd, times) != 0) throw_errno(env, errno, "futimens", NULL, 0);
  return NULL;
}

bool register_times(napi_env env, napi_value exports) {
  return export_function(env, exports, "utimensat", js_utimensat) && export_function(env, exports, "futimens", js_futimens);
}
