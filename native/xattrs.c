/* Extended attributes (user.*, security.*, trusted.*, and ACLs as system.posix_acl_*). Names and values
 * are bytes. An entry is addressed four ways: an open fd (f-variants); a path whose final symlink is never
 * followed (l-variants); a path followed to the end (the plain calls, for the kernel's /proc/self/fd/N
 * link to a handle, which lands on the handle's own inode); or the *xattrat calls (Linux 6.13) with a
 * dirfd, a path and AT_* flags (an O_PATH handle with "" and AT_EMPTY_PATH). */
#include "common.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/xattr.h>

/* glibc 2.36 has no wrappers, nor these numbers: the generic table's, shared by x86_64 and arm64. */
#if !defined(SYS_setxattrat) && (defined(__x86_64__) || defined(__aarch64__))
#define SYS_setxattrat 463
#define SYS_getxattrat 464
#define SYS_listxattrat 465
#define SYS_removexattrat 466
#endif

/* <linux/xattr.h>'s struct xattr_args (6.13), absent from older headers: the value and its size. */
struct cps_xattr_args {
  uint64_t value;
  uint32_t size;
  uint32_t flags;
};

typedef enum { BY_FD, BY_PATH_NOFOLLOW, BY_PATH_FOLLOW, BY_AT } target_kind;

typedef struct {
  target_kind kind;
  int32_t fd; /* BY_FD's fd, BY_AT's dirfd */
  int32_t at_flags;
  name_arg path;
} xattr_target;

static const char *const list_calls[] = {"flistxattr", "llistxattr", "listxattr", "listxattrat"};
static const char *const get_calls[] = {"fgetxattr", "lgetxattr", "getxattr", "getxattrat"};
static const char *const set_calls[] = {"fsetxattr", "lsetxattr", "setxattr", "setxattrat"};
static const char *const remove_calls[] = {"fremovexattr", "lremovexattr", "removexattr", "removexattrat"};

#ifdef SYS_setxattrat
#define XATTRAT(call) (call)
#else
#define XATTRAT(call) (errno = ENOSYS, -1)
#endif

static ssize_t do_list(const xattr_target *target, char *list, size_t size) {
  switch (target->kind) {
    case BY_FD: return flistxattr(target->fd, list, size);
    case BY_PATH_NOFOLLOW: return llistxattr(target->path.bytes, list, size);
    case BY_PATH_FOLLOW: return listxattr(target->path.bytes, list, size);
    default: return XATTRAT(syscall(SYS_listxattrat, target->fd, target->path.bytes, target->at_flags, list, size));
  }
}

static ssize_t do_get(const xattr_target *target, const char *name, char *value, size_t size) {
  switch (target->kind) {
    case BY_FD: return fgetxattr(target->fd, name, value, size);
    case BY_PATH_NOFOLLOW: return lgetxattr(target->path.bytes, name, value, size);
    case BY_PATH_FOLLOW: return getxattr(target->path.bytes, name, value, size);
    default: {
      struct cps_xattr_args args = {.value = (uint64_t)(uintptr_t)value, .size = (uint32_t)size, .flags = 0};
      return XATTRAT(syscall(SYS_getxattrat, target->fd, target->path.bytes, target->at_flags, name, &args, sizeof args));
    }
  }
}

static int do_set(const xattr_target *target, const char *name, const void *value, size_t size, int flags) {
  switch (target->kind) {
    case BY_FD: return fsetxattr(target->fd, name, value, size, flags);
    case BY_PATH_NOFOLLOW: return lsetxattr(target->path.bytes, name, value, size, flags);
    case BY_PATH_FOLLOW: return setxattr(target->path.bytes, name, value, size, flags);
    default: {
      struct cps_xattr_args args = {.value = (uint64_t)(uintptr_t)value, .size = (uint32_t)size, .flags = (uint32_t)flags};
      return (int)XATTRAT(syscall(SYS_setxattrat, target->fd, target->path.bytes, target->at_flags, name, &args, sizeof args));
    }
  }
}

static int do_remove(const xattr_target *target, const char *name) {
  switch (target->kind) {
    case BY_FD: return fremovexattr(target->fd, name);
    case BY_PATH_NOFOLLOW: return lremovexattr(target->path.bytes, name);
    case BY_PATH_FOLLOW: return removexattr(target->path.bytes, name);
    default: return (int)XATTRAT(syscall(SYS_removexattrat, target->fd, target->path.bytes, target->at_flags, name));
  }
}

/* Errors name the path; an fd or an empty path has none: then the attribute (the wrapper adds the entry). */
static void throw_for(napi_env env, const xattr_target *target, const char *const calls[], const name_arg *name) {
  int error_number = errno;
  const char *call = calls[target->kind];
  if (target->kind != BY_FD && target->path.length > 0) {
    throw_errno(env, error_number, call, target->path.bytes, target->path.length);
  } else if (name != NULL) {
    throw_errno(env, error_number, call, name->bytes, name->length);
  } else {
    throw_errno(env, error_number, call, NULL, 0);
  }
}

/* Splits the NUL-separated list the kernel returns into an array of Buffers. */
static napi_value split_names(napi_env env, const char *list, ssize_t length) {
  napi_value names;
  napi_create_array(env, &names);
  uint32_t count = 0;
  for (ssize_t at = 0; at < length;) {
    size_t name_length = strnlen(list + at, (size_t)(length - at));
    if (name_length > 0) napi_set_element(env, names, count++, make_buffer(env, list + at, name_length));
    at += (ssize_t)name_length + 1;
  }
  return names;
}

/* The kernel answers a size query and then fills; the value may grow in between, hence the loop (ERANGE). */
static napi_value list_common(napi_env env, const xattr_target *target) {
  for (;;) {
    ssize_t size = do_list(target, NULL, 0);
    if (size < 0) break;
    if (size == 0) return split_names(env, "", 0);
    char *list = malloc((size_t)size);
    if (list == NULL) {
      errno = ENOMEM;
      break;
    }
    ssize_t length = do_list(target, list, (size_t)size);
    if (length < 0) {
      int error_number = errno;
      free(list);
      if (error_number == ERANGE) continue;
      errno = error_number;
      break;
    }
    napi_value names = split_names(env, list, length);
    free(list);
    return names;
  }
  throw_for(env, target, list_calls, NULL);
  return NULL;
}

static napi_value get_common(napi_env env, const xattr_target *target, name_arg *name) {
  for (;;) {
    ssize_t size = do_get(target, name->bytes, NULL, 0);
    if (size < 0) break;
    char *value = malloc(size == 0 ? 1 : (size_t)size);
    if (value == NULL) {
      errno = ENOMEM;
      break;
    }
    ssize_t length = do_get(target, name->bytes, value, (size_t)size);
    if (length < 0) {
      int error_number = errno;
      free(value);
      if (error_number == ERANGE) continue;
      errno = error_number;
      break;
    }
    napi_value result = make_buffer(env, value, (size_t)length);
    free(value);
    return result;
  }
  throw_for(env, target, get_calls, name);
  return NULL;
}

/* Reads the target from the first arguments: (fd), (path) or (dirfd, path, atFlags); returns how many it took, 0 after throwing. */
static size_t get_target(napi_env env, napi_value *argv, target_kind kind, xattr_target *target) {
  target->kind = kind;
  target->fd = -1;
  target->at_flags = 0;
  target->path.bytes = NULL;
  target->path.length = 0;
  if (kind == BY_FD) return get_int32(env, argv[0], "fd", &target->fd) ? 1 : 0;
  if (kind != BY_AT) return get_name(env, argv[0], "path", &target->path) ? 1 : 0;
  if (!get_int32(env, argv[0], "dirfd", &target->fd) || !get_int32(env, argv[2], "atFlags", &target->at_flags)) return 0;
  return get_name(env, argv[1], "path", &target->path) ? 3 : 0;
}

static size_t target_arity(target_kind kind) { return kind == BY_AT ? 3 : 1; }

/* The target, then the attribute name after it; false after throwing, with nothing left to free. */
static bool get_target_and_name(napi_env env, napi_value *argv, target_kind kind, xattr_target *target, name_arg *name) {
  if (get_target(env, argv, kind, target) == 0) return false;
  if (get_name(env, argv[target_arity(kind)], "attribute name", name)) return true;
  free_name(&target->path);
  return false;
}

static napi_value list_entry(napi_env env, napi_callback_info info, target_kind kind) {
  napi_value argv[3];
  if (!get_args(env, info, target_arity(kind), argv)) return NULL;
  xattr_target target;
  if (get_target(env, argv, kind, &target) == 0) return NULL;
  napi_value result = list_common(env, &target);
  free_name(&target.path);
  return result;
}

static napi_value get_entry(napi_env env, napi_callback_info info, target_kind kind) {
  napi_value argv[4];
  size_t arity = target_arity(kind);
  if (!get_args(env, info, arity + 1, argv)) return NULL;
  xattr_target target;
  name_arg name;
  if (!get_target_and_name(env, argv, kind, &target, &name)) return NULL;
  napi_value result = get_common(env, &target, &name);
  free_name(&target.path);
  free_name(&name);
  return result;
}

/* set(target..., name, value, flags): flags 0, XATTR_CREATE or XATTR_REPLACE. */
static napi_value set_entry(napi_env env, napi_callback_info info, target_kind kind) {
  napi_value argv[6];
  size_t arity = target_arity(kind);
  if (!get_args(env, info, arity + 3, argv)) return NULL;
  int32_t flags;
  name_arg name;
  bool is_buffer = false;
  napi_is_buffer(env, argv[arity + 1], &is_buffer);
  if (!is_buffer) {
    throw_type_error(env, "attribute value must be a Buffer");
    return NULL;
  }
  void *value;
  size_t length;
  napi_get_buffer_info(env, argv[arity + 1], &value, &length);
  if (!get_int32(env, argv[arity + 2], "flags", &flags)) return NULL;
  xattr_target target;
  if (!get_target_and_name(env, argv, kind, &target, &name)) return NULL;
  if (do_set(&target, name.bytes, value, length, flags) != 0) throw_for(env, &target, set_calls, &name);
  free_name(&target.path);
  free_name(&name);
  return NULL;
}

static napi_value remove_entry(napi_env env, napi_callback_info info, target_kind kind) {
  napi_value argv[4];
  size_t arity = target_arity(kind);
  if (!get_args(env, info, arity + 1, argv)) return NULL;
  xattr_target target;
  name_arg name;
  if (!get_target_and_name(env, argv, kind, &target, &name)) return NULL;
  if (do_remove(&target, name.bytes) != 0) throw_for(env, &target, remove_calls, &name);
  free_name(&target.path);
  free_name(&name);
  return NULL;
}

#define XATTR_FUNCTIONS(suffix, kind)                                                                             \
  static napi_value js_list_##suffix(napi_env env, napi_callback_info info) { return list_entry(env, info, kind); } \
  static napi_value js_get_##suffix(napi_env env, napi_callback_info info) { return get_entry(env, info, kind); }   \
  static napi_value js_set_##suffix(napi_env env, napi_callback_info info) { return set_entry(env, info, kind); }   \
  static napi_value js_remove_##suffix(napi_env env, napi_callback_info info) { return remove_entry(env, info, kind); }

XATTR_FUNCTIONS(fd, BY_FD)
XATTR_FUNCTIONS(nofollow, BY_PATH_NOFOLLOW)
XATTR_FUNCTIONS(follow, BY_PATH_FOLLOW)
XATTR_FUNCTIONS(at, BY_AT)

bool register_xattrs(napi_env env, napi_value exports) {
  return export_function(env, exports, "flistxattr", js_list_fd) && export_function(env, exports, "fgetxattr", js_get_fd) &&
         export_function(env, exports, "fsetxattr", js_set_fd) && export_function(env, exports, "fremovexattr", js_remove_fd) &&
         export_function(env, exports, "llistxattr", js_list_nofollow) && export_function(env, exports, "lgetxattr", js_get_nofollow) &&
         export_function(env, exports, "lsetxattr", js_set_nofollow) && export_function(env, exports, "lremovexattr", js_remove_nofollow) &&
         export_function(env, exports, "listxattr", js_list_follow) && export_function(env, exports, "getxattr", js_get_follow) &&
         export_function(env, exports, "setxattr", js_set_follow) && export_function(env, exports, "removexattr", js_remove_follow) &&
         export_function(env, exports, "listxattrat", js_list_at) && export_function(env, exports, "getxattrat", js_get_at) &&
         export_function(env, exports, "setxattrat", js_set_at) && export_function(env, exports, "removexattrat", js_remove_at);
}
