/* User and group names through NSS (getpwuid_r & co): a restore chooses an owner by name when the
 * name exists on this machine and by numeric id otherwise, as GNU tar does. */
#include "common.h"

#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef enum { BY_UID, BY_GID, BY_USER_NAME, BY_GROUP_NAME } lookup_kind;

static const char *syscall_names[] = {"getpwuid_r", "getgrgid_r", "getpwnam_r", "getgrnam_r"};

/* The _r calls want a caller buffer; ERANGE means grow it. "Not found" answers null, not an error
 * (glibc returns 0 with no record; other NSS modules return ENOENT, ESRCH, EBADF or EPERM). */
static napi_value lookup(napi_env env, lookup_kind kind, uint32_t id, const char *name) {
  size_t capacity = 1024;
  for (;;) {
    char *buffer = malloc(capacity);
    if (buffer == NULL) {
      throw_errno(env, ENOMEM, syscall_names[kind], NULL, 0);
      return NULL;
    }
    struct passwd user, *found_user = NULL;
    struct group group, *found_group = NULL;
    int error_number;
    switch (kind) {
      case BY_UID: error_number = getpwuid_r((uid_t)id, &user, buffer, capacity, &found_user); break;
      case BY_USER_NAME: error_number = getpwnam_r(name, &user, buffer, capacity, &found_user); break;
      case BY_GID: error_number = getgrgid_r((gid_t)id, &group, buffer, capacity, &found_group); break;
      default: error_number = getgrnam_r(name, &group, buffer, capacity, &found_group); break;
    }
    if (error_number == ERANGE && capacity < (1u << 24)) {
      free(buffer);
      capacity *= 4;
      continue;
    }
    napi_value result = NULL;
    if (found_user != NULL || found_group != NULL) {
      if (kind == BY_UID) napi_create_string_utf8(env, found_user->pw_name, NAPI_AUTO_LENGTH, &result);
      if (kind == BY_GID) napi_create_string_utf8(env, found_group->gr_name, NAPI_AUTO_LENGTH, &result);
      if (kind == BY_USER_NAME) result = make_double(env, (double)found_user->pw_uid);
      if (kind == BY_GROUP_NAME) result = make_double(env, (double)found_group->gr_gid);
    } else if (error_number == 0 || error_number == ENOENT || error_number == ESRCH || error_number == EBADF ||
               error_number == EPERM) {
      result = make_null(env);
    } else {
      throw_errno(env, error_number, syscall_names[kind], name, name == NULL ? 0 : strlen(name));
    }
    free(buffer);
    return result;
  }
}

static napi_value by_id(napi_env env, napi_callback_info info, lookup_kind kind) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  uint32_t id;
  if (!get_uint32(env, argv[0], kind == BY_UID ? "uid" : "gid", &id)) return NULL;
  return lookup(env, kind, id, NULL);
}

static napi_value by_name(napi_env env, napi_callback_info info, lookup_kind kind) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  name_arg name;
  if (!get_name(env, argv[0], kind == BY_USER_NAME ? "user name" : "group name", &name)) return NULL;
  napi_value result = lookup(env, kind, 0, name.bytes);
  free_name(&name);
  return result;
}

/* userName(uid) -> string | null; groupName(gid) -> string | null */
static napi_value js_user_name(napi_env env, napi_callback_info info) { return by_id(env, info, BY_UID); }
static napi_value js_group_name(napi_env env, napi_callback_info info) { return by_id(env, info, BY_GID); }
/* userId(name) -> number | null; groupId(name) -> number | null */
static napi_value js_user_id(napi_env env, napi_callback_info info) { return by_name(env, info, BY_USER_NAME); }
static napi_value js_group_id(napi_env env, napi_callback_info info) { return by_name(env, info, BY_GROUP_NAME); }

bool register_users(napi_env env, napi_value exports) {
  return export_function(env, exports, "userName", js_user_name) && export_function(env, exports, "groupName", js_group_name) &&
         export_function(env, exports, "userId", js_user_id) && export_function(env, exports, "groupId", js_group_id);
}
