/* Entry point of the cpsbackup POSIX addon: registers every function and the constants their
 * flags need (the kernel's own values, so JavaScript never hard-codes an O_* or AT_* number). */
#include "common.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/stat.h>
#include <sys/file.h>
#include <sys/xattr.h>

static bool set_constant(napi_env env, napi_value object, const char *name, int64_t value) {
  napi_value number;
  if (napi_create_int64(env, value, &number) != napi_ok) return false;
  return napi_set_named_property(env, object, name, number) == napi_ok;
}

bool register_constants(napi_env env, napi_value exports) {
  napi_value constants;
  if (napi_create_object(env, &constants) != napi_ok) return false;
  struct {
    const char *name;
    int64_t value;
  } table[] = {
      {"O_RDONLY", O_RDONLY},       {"O_WRONLY", O_WRONLY},
      {"O_RDWR", O_RDWR},           {"O_CREAT", O_CREAT},
      {"O_EXCL", O_EXCL},           {"O_TRUNC", O_TRUNC},
      {"O_NOFOLLOW", O_NOFOLLOW},   {"O_DIRECTORY", O_DIRECTORY},
      {"O_NONBLOCK", O_NONBLOCK},   {"O_NOCTTY", O_NOCTTY},
      {"O_PATH", O_PATH},           {"O_CLOEXEC", O_CLOEXEC},
      {"O_NOATIME", O_NOATIME},     {"O_TMPFILE", O_TMPFILE},
      {"AT_FDCWD", AT_FDCWD},
      {"AT_SYMLINK_NOFOLLOW", AT_SYMLINK_NOFOLLOW},
      {"AT_SYMLINK_FOLLOW", AT_SYMLINK_FOLLOW},
      {"AT_REMOVEDIR", AT_REMOVEDIR},
      {"AT_EMPTY_PATH", AT_EMPTY_PATH},
      {"S_IFMT", S_IFMT},           {"S_IFREG", S_IFREG},
      {"S_IFDIR", S_IFDIR},         {"S_IFLNK", S_IFLNK},
      {"S_IFIFO", S_IFIFO},         {"S_IFCHR", S_IFCHR},
      {"S_IFBLK", S_IFBLK},         {"S_IFSOCK", S_IFSOCK},
      {"XATTR_CREATE", XATTR_CREATE},
      {"XATTR_REPLACE", XATTR_REPLACE},
      {"RENAME_NOREPLACE", RENAME_NOREPLACE},
      {"RENAME_EXCHANGE", RENAME_EXCHANGE},
      {"LOCK_EX", LOCK_EX},         {"LOCK_NB", LOCK_NB},
      {"LOCK_UN", LOCK_UN},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    if (!set_constant(env, constants, table[i].name, table[i].value)) return false;
  }
  return napi_set_named_property(env, exports, "constants", constants) == napi_ok;
}

NAPI_MODULE_INIT() {
  if (!register_at(env, exports) || !register_stat(env, exports) || !register_extents(env, exports) ||
      !register_xattrs(env, exports) || !register_times(env, exports) || !register_special(env, exports) ||
      !register_users(env, exports) || !register_gear(env, exports) || !register_lock(env, exports) ||
      !register_flags(env, exports) || !register_writeback(env, exports) || !register_constants(env, exports)) {
    napi_throw_error(env, NULL, "cpsbackup posix addon: registration failed");
    return NULL;
  }
  return exports;
}
