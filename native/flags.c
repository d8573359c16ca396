/* Inode flags (chattr's: immutable, append-only, nodump, noatime, …) through FS_IOC_GETFLAGS and
 * FS_IOC_SETFLAGS on an open fd, never a name. The kernel reads and writes an int, whatever the
 * ioctl's declared type says (as e2fsprogs and borg pass it). */
#include "common.h"

#include <linux/fs.h>
#include <sys/ioctl.h>

/* A file system that keeps no flags answers ENOTTY (tmpfs before 6.0, FUSE, NFS), EOPNOTSUPP or EINVAL. */
static bool is_unsupported(int error_number) {
  return error_number == ENOTTY || error_number == EOPNOTSUPP || error_number == ENOTSUP || error_number == EINVAL ||
         error_number == ENOSYS;
}

/* getInodeFlags(fd): the flags, or null where the file system keeps none. */
static napi_value js_get_inode_flags(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  int32_t fd;
  if (!get_int32(env, argv[0], "fd", &fd)) return NULL;
  int flags = 0;
  int result;
  RETRY_EINTR(result, ioctl(fd, FS_IOC_GETFLAGS, &flags));
  if (result != 0) {
    if (is_unsupported(errno)) return make_null(env);
    throw_errno(env, errno, "ioctl(FS_IOC_GETFLAGS)", NULL, 0);
    return NULL;
  }
  return make_double(env, (double)(unsigned int)flags);
}

/* setInodeFlags(fd, flags): throws as Node's fs does (EPERM without CAP_LINUX_IMMUTABLE, ENOTTY/EOPNOTSUPP
 * where the file system keeps none). */
static napi_value js_set_inode_flags(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  int32_t fd;
  uint32_t value;
  if (!get_int32(env, argv[0], "fd", &fd) || !get_uint32(env, argv[1], "flags", &value)) return NULL;
  int flags = (int)value;
  int result;
  RETRY_EINTR(result, ioctl(fd, FS_IOC_SETFLAGS, &flags));
  if (result != 0) throw_errno(env, errno, "ioctl(FS_IOC_SETFLAGS)", NULL, 0);
  return NULL;
}

bool register_flags(napi_env env, napi_value exports) {
  return export_function(env, exports, "getInodeFlags", js_get_inode_flags) &&
         export_function(env, exports, "setInodeFlags", js_set_inode_flags);
}
