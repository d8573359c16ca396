/* Access and modification times to the nanosecond: utimensat on a name (never following a final
 * symlink when asked) and futimens on an fd. Each time is a (seconds, nanoseconds) pair as struct timespec
 * holds it, seconds a BigInt or a safe integer, nanoseconds 0..999999999; null seconds omit that time. */
#include "common.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

/* A pair, never one nanosecond count: that overflowed int64 after 2262-04-11, so a year-2446 mtime from
 * the catalog was refused. Seconds a time_t cannot hold are EOVERFLOW, never wrapped. */
static bool get_time(napi_env env, napi_value seconds_value, napi_value nanoseconds_value, const char *what,
                     struct timespec *out, int *error_number) {
  if (is_nullish(env, seconds_value)) {
    out->tv_sec = 0;
    out->tv_nsec = UTIME_OMIT;
    return true;
  }
  char label[32];
  int64_t seconds;
  uint32_t nanoseconds;
  snprintf(label, sizeof label, "%s seconds", what);
  if (!get_int64(env, seconds_value, label, &seconds)) return false;
  snprintf(label, sizeof label, "%s nanoseconds", what);
  if (!get_uint32(env, nanoseconds_value, label, &nanoseconds)) return false;
  if (nanoseconds > 999999999u) {
    throw_type_error(env, "nanoseconds must be an integer from 0 to 999999999");
    return false;
  }
  if ((int64_t)(time_t)seconds != seconds) *error_number = EOVERFLOW;
  out->tv_sec = (time_t)seconds;
  out->tv_nsec = (long)nanoseconds;
  return true;
}

/* utimensat(dirfd, name, atimeSec | null, atimeNsec, mtimeSec | null, mtimeNsec, flags) */
static napi_value js_utimensat(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  if (!get_args(env, info, 7, argv)) return NULL;
  int32_t dirfd, flags;
  struct timespec times[2];
  int error_number = 0;
  name_arg name;
  if (!get_int32(env, argv[0], "dirfd", &dirfd) || !get_time(env, argv[2], argv[3], "atime", &times[0], &error_number) ||
      !get_time(env, argv[4], argv[5], "mtime", &times[1], &error_number) || !get_int32(env, argv[6], "flags", &flags) ||
      !get_name(env, argv[1], "name", &name)) return NULL;
  if (error_number != 0) throw_errno(env, error_number, "utimensat", name.bytes, name.length);
  else if (utimensat(dirfd, name.bytes, times, flags) != 0) throw_errno(env, errno, "utimensat", name.bytes, name.length);
  free_name(&name);
  return NULL;
}

/* futimens(fd, atimeSec | null, atimeNsec, mtimeSec | null, mtimeNsec) */
static napi_value js_futimens(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!get_args(env, info, 5, argv)) return NULL;
  int32_t fd;
  struct timespec times[2];
  int error_number = 0;
  if (!get_int32(env, argv[0], "fd", &fd) || !get_time(env, argv[1], argv[2], "atime", &times[0], &error_number) ||
      !get_time(env, argv[3], argv[4], "mtime", &times[1], &error_number)) return NULL;
  if (error_number != 0) throw_errno(env, error_number, "futimens", NULL, 0);
  else if (futimens(fd, times) != 0) throw_errno(env, errno, "futimens", NULL, 0);
  return NULL;
}

bool register_times(napi_env env, napi_value exports) {
  return export_function(env, exports, "utimensat", js_utimensat) && export_function(env, exports, "futimens", js_futimens);
}
