/* The at-family: every operation names its entry by a held directory fd plus one name, so a
 * restore never resolves a long path and never follows a symlink it did not ask to follow. */
#include "common.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* openat(dirfd, name, flags, mode) -> fd. O_CLOEXEC is always added: loaders run as children. */
static napi_value js_openat(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!get_args(env, info, 4, argv)) return NULL;
  int32_t dirfd, flags;
  uint32_t mode;
  name_arg name;
  if (!get_int32(env, argv[0], "dirfd", &dirfd) || !get_int32(env, argv[2], "flags", &flags) ||
      !get_uint32(env, argv[3], "mode", &mode) || !get_name(env, argv[1], "name", &name)) return NULL;
  int fd;
  RETRY_EINTR(fd, openat(dirfd, name.bytes, flags | O_CLOEXEC, (mode_t)mode));
  if (fd < 0) {
    throw_errno(env, errno, "openat", name.bytes, name.length);
    free_name(&name);
    return NULL;
  }
  free_name(&name);
  napi_value result;
  napi_create_int32(env, fd, &result);
  return result;
}

static napi_value js_mkdirat(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;
  int32_t dirfd;
  uint32_t mode;
  name_arg name;
  if (!get_int32(env, argv[0], "dirfd", &dirfd) || !get_uint32(env, argv[2], "mode", &mode) ||
      !get_name(env, argv[1], "name", &name)) return NULL;
  if (mkdirat(dirfd, name.bytes, (mode_t)mode) != 0) throw_errno(env, errno, "mkdirat", name.bytes, name.length);
  free_name(&name);
  return NULL;
}

/* symlinkat(target, dirfd, name): the target's bytes are stored as given, never resolved. */
static napi_value js_symlinkat(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;
  int32_t dirfd;
  name_arg target, name;
  if (!get_int32(env, argv[1], "dirfd", &dirfd) || !get_name(env, argv[0], "target", &target)) return NULL;
  if (!get_name(env, argv[2], "name", &name)) {
    free_name(&target);
    return NULL;
  }
  if (symlinkat(target.bytes, dirfd, name.bytes) != 0) throw_errno(env, errno, "symlinkat", name.bytes, name.length);
  free_name(&target);
  free_name(&name);
  return NULL;
}

/* readlinkat(dirfd, name) -> Buffer with the target's exact bytes (grown until it fits). */
static napi_value js_readlinkat(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  int32_t dirfd;
  name_arg name;
  if (!get_int32(env, argv[0], "dirfd", &dirfd) || !get_name(env, argv[1], "name", &name)) return NULL;
  size_t capacity = 256;
  for (;;) {
    char *buffer = malloc(capacity);
    if (buffer == NULL) {
      throw_errno(env, ENOMEM, "readlinkat", name.bytes, name.length);
      free_name(&name);
      return NULL;
    }
    ssize_t length = readlinkat(dirfd, name.bytes, buffer, capacity);
    if (length < 0) {
      throw_errno(env, errno, "readlinkat", name.bytes, name.length);
      free(buffer);
      free_name(&name);
      return NULL;
    }
    if ((size_t)length < capacity) {
      napi_value result = make_buffer(env, buffer, (size_t)length);
      free(buffer);
      free_name(&name);
      return result;
    }
    free(buffer);
    capacity *= 2;
  }
}

/* linkat(olddirfd, oldname, newdirfd, newname, flags): flags 0 links a symlink itself, never its target. */
static napi_value js_linkat(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!get_args(env, info, 5, argv)) return NULL;
  int32_t old_dirfd, new_dirfd, flags;
  name_arg old_name, new_name;
  if (!get_int32(env, argv[0], "olddirfd", &old_dirfd) || !get_int32(env, argv[2], "newdirfd", &new_dirfd) ||
      !get_int32(env, argv[4], "flags", &flags) || !get_name(env, argv[1], "oldname", &old_name)) return NULL;
  if (!get_name(env, argv[3], "newname", &new_name)) {
    free_name(&old_name);
    return NULL;
  }
  if (linkat(old_dirfd, old_name.bytes, new_dirfd, new_name.bytes, flags) != 0) {
    throw_errno(env, errno, "linkat", new_name.bytes, new_name.length);
  }
  free_name(&old_name);
  free_name(&new_name);
  return NULL;
}

/* renameat(olddirfd, oldname, newdirfd, newname, flags): flags go to renameat2 (RENAME_NOREPLACE …). */
static napi_value js_renameat(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!get_args(env, info, 5, argv)) return NULL;
  int32_t old_dirfd, new_dirfd;
  uint32_t flags;
  name_arg old_name, new_name;
  if (!get_int32(env, argv[0], "olddirfd", &old_dirfd) || !get_int32(env, argv[2], "newdirfd", &new_dirfd) ||
      !get_uint32(env, argv[4], "flags", &flags) || !get_name(env, argv[1], "oldname", &old_name)) return NULL;
  if (!get_name(env, argv[3], "newname", &new_name)) {
    free_name(&old_name);
    return NULL;
  }
  int result = flags == 0 ? renameat(old_dirfd, old_name.bytes, new_dirfd, new_name.bytes)
                          : renameat2(old_dirfd, old_name.bytes, new_dirfd, new_name.bytes, flags);
  if (result != 0) throw_errno(env, errno, flags == 0 ? "renameat" : "renameat2", new_name.bytes, new_name.length);
  free_name(&old_name);
  free_name(&new_name);
  return NULL;
}

static napi_value js_unlinkat(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;
  int32_t dirfd, flags;
  name_arg name;
  if (!get_int32(env, argv[0], "dirfd", &dirfd) || !get_int32(env, argv[2], "flags", &flags) ||
      !get_name(env, argv[1], "name", &name)) return NULL;
  if (unlinkat(dirfd, name.bytes, flags) != 0) throw_errno(env, errno, "unlinkat", name.bytes, name.length);
  free_name(&name);
  return NULL;
}

/* fchownat(dirfd, name, uid, gid, flags); -1 leaves an id unchanged, as chown(2) does. */
static napi_value js_fchownat(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!get_args(env, info, 5, argv)) return NULL;
  int32_t dirfd, flags;
  int64_t uid, gid;
  name_arg name;
  if (!get_int32(env, argv[0], "dirfd", &dirfd) || !get_int64(env, argv[2], "uid", &uid) ||
      !get_int64(env, argv[3], "gid", &gid) || !get_int32(env, argv[4], "flags", &flags) ||
      !get_name(env, argv[1], "name", &name)) return NULL;
  if (fchownat(dirfd, name.bytes, (uid_t)uid, (gid_t)gid, flags) != 0) {
    throw_errno(env, errno, "fchownat", name.bytes, name.length);
  }
  free_name(&name);
  return NULL;
}

static napi_value js_fchown(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;
  int32_t fd;
  int64_t uid, gid;
  if (!get_int32(env, argv[0], "fd", &fd) || !get_int64(env, argv[1], "uid", &uid) ||
      !get_int64(env, argv[2], "gid", &gid)) return NULL;
  if (fchown(fd, (uid_t)uid, (gid_t)gid) != 0) throw_errno(env, errno, "fchown", NULL, 0);
  return NULL;
}

static napi_value js_fchmod(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  int32_t fd;
  uint32_t mode;
  if (!get_int32(env, argv[0], "fd", &fd) || !get_uint32(env, argv[1], "mode", &mode)) return NULL;
  if (fchmod(fd, (mode_t)mode) != 0) throw_errno(env, errno, "fchmod", NULL, 0);
  return NULL;
}

/* fchmodat with AT_SYMLINK_NOFOLLOW: glibc 2.32+ refuses a symlink (EOPNOTSUPP) instead of following it. */
static napi_value js_fchmodat(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!get_args(env, info, 4, argv)) return NULL;
  int32_t dirfd, flags;
  uint32_t mode;
  name_arg name;
  if (!get_int32(env, argv[0], "dirfd", &dirfd) || !get_uint32(env, argv[2], "mode", &mode) ||
      !get_int32(env, argv[3], "flags", &flags) || !get_name(env, argv[1], "name", &name)) return NULL;
  if (fchmodat(dirfd, name.bytes, (mode_t)mode, flags) != 0) throw_errno(env, errno, "fchmodat", name.bytes, name.length);
  free_name(&name);
  return NULL;
}

bool register_at(napi_env env, napi_value exports) {
  return export_function(env, exports, "openat", js_openat) && export_function(env, exports, "mkdirat", js_mkdirat) &&
         export_function(env, exports, "symlinkat", js_symlinkat) &&
         export_function(env, exports, "readlinkat", js_readlinkat) && export_function(env, exports, "linkat", js_linkat) &&
         export_function(env, exports, "renameat", js_renameat) && export_function(env, exports, "unlinkat", js_unlinkat) &&
         export_function(env, exports, "fchownat", js_fchownat) && export_function(env, exports, "fchown", js_fchown) &&
         export_function(env, exports, "fchmod", js_fchmod) && export_function(env, exports, "fchmodat", js_fchmodat);
}
