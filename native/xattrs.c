/* Extended attributes (user.*, security.*, trusted.*, and ACLs as system.posix_acl_*): l-variants
 * by path never follow a final symlink, f-variants work on an open fd. Names and values are bytes. */
#include "common.h"

#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

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
static napi_value list_common(napi_env env, bool by_fd, int fd, name_arg *path) {
  for (;;) {
    ssize_t size = by_fd ? flistxattr(fd, NULL, 0) : llistxattr(path->bytes, NULL, 0);
    if (size < 0) break;
    if (size == 0) return split_names(env, "", 0);
    char *list = malloc((size_t)size);
    if (list == NULL) {
      errno = ENOMEM;
      break;
    }
    ssize_t length = by_fd ? flistxattr(fd, list, (size_t)size) : llistxattr(path->bytes, list, (size_t)size);
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
  if (by_fd) {
    throw_errno(env, errno, "flistxattr", NULL, 0);
  } else {
    throw_errno(env, errno, "llistxattr", path->bytes, path->length);
  }
  return NULL;
}

static napi_value get_common(napi_env env, bool by_fd, int fd, name_arg *path, name_arg *name) {
  for (;;) {
    ssize_t size = by_fd ? fgetxattr(fd, name->bytes, NULL, 0) : lgetxattr(path->bytes, name->bytes, NULL, 0);
    if (size < 0) break;
    char *value = malloc(size == 0 ? 1 : (size_t)size);
    if (value == NULL) {
      errno = ENOMEM;
      break;
    }
    ssize_t length = by_fd ? fgetxattr(fd, name->bytes, value, (size_t)size)
                           : lgetxattr(path->bytes, name->bytes, value, (size_t)size);
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
  /* The f-variant has no path: its error names the attribute instead (the wrapper adds the other). */
  if (by_fd) {
    throw_errno(env, errno, "fgetxattr", name->bytes, name->length);
  } else {
    throw_errno(env, errno, "lgetxattr", path->bytes, path->length);
  }
  return NULL;
}

/* Arguments: (target, ...) where target is an fd (f-variants) or a path Buffer (l-variants). */
static bool get_target(napi_env env, napi_value value, bool by_fd, int32_t *fd, name_arg *path) {
  path->bytes = NULL;
  if (by_fd) return get_int32(env, value, "fd", fd);
  return get_name(env, value, "path", path);
}

static napi_value list_entry(napi_env env, napi_callback_info info, bool by_fd) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  int32_t fd = -1;
  name_arg path;
  if (!get_target(env, argv[0], by_fd, &fd, &path)) return NULL;
  napi_value result = list_common(env, by_fd, fd, &path);
  free_name(&path);
  return result;
}

static napi_value get_entry(napi_env env, napi_callback_info info, bool by_fd) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  int32_t fd = -1;
  name_arg path, name;
  if (!get_target(env, argv[0], by_fd, &fd, &path)) return NULL;
  if (!get_name(env, argv[1], "attribute name", &name)) {
    free_name(&path);
    return NULL;
  }
  napi_value result = get_common(env, by_fd, fd, &path, &name);
  free_name(&path);
  free_name(&name);
  return result;
}

/* set(target, name, value, flags): flags 0, XATTR_CREATE or XATTR_REPLACE. */
static napi_value set_entry(napi_env env, napi_callback_info info, bool by_fd) {
  napi_value argv[4];
  if (!get_args(env, info, 4, argv)) return NULL;
  int32_t fd = -1, flags;
  name_arg path, name;
  bool is_buffer = false;
  napi_is_buffer(env, argv[2], &is_buffer);
  if (!is_buffer) {
    throw_type_error(env, "attribute value must be a Buffer");
    return NULL;
  }
  void *value;
  size_t length;
  napi_get_buffer_info(env, argv[2], &value, &length);
  if (!get_int32(env, argv[3], "flags", &flags) || !get_target(env, argv[0], by_fd, &fd, &path)) return NULL;
  if (!get_name(env, argv[1], "attribute name", &name)) {
    free_name(&path);
    return NULL;
  }
  int result = by_fd ? fsetxattr(fd, name.bytes, value, length, flags)
                     : lsetxattr(path.bytes, name.bytes, value, length, flags);
  if (result != 0) {
    if (by_fd) {
      throw_errno(env, errno, "fsetxattr", name.bytes, name.length);
    } else {
      throw_errno(env, errno, "lsetxattr", path.bytes, path.length);
    }
  }
  free_name(&path);
  free_name(&name);
  return NULL;
}

static napi_value remove_entry(napi_env env, napi_callback_info info, bool by_fd) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  int32_t fd = -1;
  name_arg path, name;
  if (!get_target(env, argv[0], by_fd, &fd, &path)) return NULL;
  if (!get_name(env, argv[1], "attribute name", &name)) {
    free_name(&path);
    return NULL;
  }
  int result = by_fd ? fremovexattr(fd, name.bytes) : lremovexattr(path.bytes, name.bytes);
  if (result != 0) {
    if (by_fd) {
      throw_errno(env, errno, "fremovexattr", name.bytes, name.length);
    } else {
      throw_errno(env, errno, "lremovexattr", path.bytes, path.length);
    }
  }
  free_name(&path);
  free_name(&name);
  return NULL;
}

static napi_value js_llistxattr(napi_env env, napi_callback_info info) { return list_entry(env, info, false); }
static napi_value js_flistxattr(napi_env env, napi_callback_info info) { return list_entry(env, info, true); }
static napi_value js_lgetxattr(napi_env env, napi_callback_info info) { return get_entry(env, info, false); }
static napi_value js_fgetxattr(napi_env env, napi_callback_info info) { return get_entry(env, info, true); }
static napi_value js_lsetxattr(napi_env env, napi_callback_info info) { return set_entry(env, info, false); }
static napi_value js_fsetxattr(napi_env env, napi_callback_info info) { return set_entry(env, info, true); }
static napi_value js_lremovexattr(napi_env env, napi_callback_info info) { return remove_entry(env, info, false); }
static napi_value js_fremovexattr(napi_env env, napi_callback_info info) { return remove_entry(env, info, true); }

bool register_xattrs(napi_env env, napi_value exports) {
  return export_function(env, exports, "llistxattr", js_llistxattr) &&
         export_function(env, exports, "flistxattr", js_flistxattr) &&
         export_function(env, exports, "lgetxattr", js_lgetxattr) &&
         export_function(env, exports, "fgetxattr", js_fgetxattr) &&
         export_function(env, exports, "lsetxattr", js_lsetxattr) &&
         export_function(env, exports, "fsetxattr", js_fsetxattr) &&
         export_function(env, exports, "lremovexattr", js_lremovexattr) &&
         export_function(env, exports, "fremovexattr", js_fremovexattr);
}
