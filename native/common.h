/* Shared helpers of the cpsbackup POSIX addon: argument parsing and Node-style errors.
 * Every syscall wrapper reads its arguments and reports failures through these. */
#ifndef CPSBACKUP_POSIX_COMMON_H
#define CPSBACKUP_POSIX_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <sys/types.h>

/* Retries a syscall interrupted by a signal: Node installs handlers, so EINTR does happen. */
#define RETRY_EINTR(result, call) \
  do { (result) = (call); } while ((result) == -1 && errno == EINTR)

/* A NUL-terminated copy of a name given as a Buffer (any byte but NUL) or a string. */
typedef struct {
  char *bytes;
  size_t length;
} name_arg;

/* Each returns false after throwing a JavaScript exception; the caller returns NULL at once. */
bool get_args(napi_env env, napi_callback_info info, size_t expected, napi_value *argv);
bool get_int32(napi_env env, napi_value value, const char *what, int32_t *out);
bool get_uint32(napi_env env, napi_value value, const char *what, uint32_t *out);
bool get_int64(napi_env env, napi_value value, const char *what, int64_t *out);
bool get_name(napi_env env, napi_value value, const char *what, name_arg *out);
/* A TypedArray of the given kind (a Buffer is a napi_uint8_array): its elements and their count. */
bool get_typed_array(napi_env env, napi_value value, napi_typedarray_type type, const char *what, const char *expected,
                     void **data, size_t *length);
void free_name(name_arg *name);
bool is_nullish(napi_env env, napi_value value);

/* Throws an Error like Node's fs errors: message "CODE: text, syscall 'path'", with code,
 * errno (negative, as libuv reports it), syscall and path (escaped so any byte reads unambiguously). */
void throw_errno(napi_env env, int error_number, const char *syscall, const char *path, size_t path_length);
void throw_type_error(napi_env env, const char *message);

napi_value make_buffer(napi_env env, const void *bytes, size_t length);
napi_value make_int64_bigint(napi_env env, int64_t value);
napi_value make_uint64_bigint(napi_env env, uint64_t value);
napi_value make_double(napi_env env, double value);
napi_value make_undefined(napi_env env);
napi_value make_null(napi_env env);

/* Registration of each file's functions on the exports object. */
bool export_function(napi_env env, napi_value exports, const char *name, napi_callback callback);
bool register_at(napi_env env, napi_value exports);
bool register_stat(napi_env env, napi_value exports);
bool register_extents(napi_env env, napi_value exports);
bool register_xattrs(napi_env env, napi_value exports);
bool register_times(napi_env env, napi_value exports);
bool register_special(napi_env env, napi_value exports);
bool register_lock(napi_env env, napi_value exports);
bool register_flags(napi_env env, napi_value exports);
bool register_writeback(napi_env env, napi_value exports);
bool register_users(napi_env env, napi_value exports);
bool register_gear(napi_env env, napi_value exports);
bool register_constants(napi_env env, napi_value exports);

#endif
