/* flock(2): whole-file advisory locks the kernel releases when the last descriptor of the open
 * file closes, the owner's death included, so a lock never outlives its holder. */
#include "common.h"

#include <sys/file.h>

/* flock(fd, operation): operation is LOCK_EX, LOCK_SH or LOCK_UN, with LOCK_NB not to wait. */
static napi_value js_flock(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  int32_t fd, operation;
  if (!get_int32(env, argv[0], "fd", &fd) || !get_int32(env, argv[1], "operation", &operation)) return NULL;
  int result;
  RETRY_EINTR(result, flock(fd, operation));
  if (result != 0) throw_errno(env, errno, "flock", NULL, 0);
  return NULL;
}

bool register_lock(napi_env env, napi_value exports) {
  return export_function(env, exports, "flock", js_flock);
}
