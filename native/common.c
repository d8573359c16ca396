/* Argument parsing and Node-style errors shared by every function of the addon.
 * Names arrive as Buffers so that any byte but NUL (and '/' within one component) survives. */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool get_args(napi_env env, napi_callback_info info, size_t expected, napi_value *argv) {
  size_t count = expected;
  if (napi_get_cb_info(env, info, &count, argv, NULL, NULL) != napi_ok) return false;
  if (count < expected) {
    char message[96];
    snprintf(message, sizeof message, "expected %zu arguments, got %zu", expected, count);
    throw_type_error(env, message);
    return false;
  }
  return true;
}

static void throw_bad_argument(napi_env env, const char *what, const char *expected) {
  char message[160];
  snprintf(message, sizeof message, "%s must be %s", what, expected);
  throw_type_error(env, message);
}

bool get_int32(napi_env env, napi_value value, const char *what, int32_t *out) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok) return false;
  if (type != napi_number) {
    throw_bad_argument(env, what, "a number");
    return false;
  }
  double number;
  napi_get_value_double(env, value, &number);
  if (number != (double)(int32_t)number) {
    throw_bad_argument(env, what, "a 32-bit integer");
    return false;
  }
  *out = (int32_t)number;
  return true;
}

bool get_uint32(napi_env env, napi_value value, const char *what, uint32_t *out) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok) return false;
  if (type != napi_number) {
    throw_bad_argument(env, what, "a number");
    return false;
  }
  double number;
  napi_get_value_double(env, value, &number);
  if (number < 0 || number > 4294967295.0 || number != (double)(uint32_t)number) {
    throw_bad_argument(env, what, "an unsigned 32-bit integer");
    return false;
  }
  *out = (uint32_t)number;
  return true;
}

/* Accepts a BigInt or a safe-integer Number. */
bool get_int64(napi_env env, napi_value value, const char *what, int64_t *out) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok) return false;
  if (type == napi_bigint) {
    bool lossless;
    napi_get_value_bigint_int64(env, value, out, &lossless);
    if (!lossless) {
      throw_bad_argument(env, what, "a BigInt within 64 bits");
      return false;
    }
    return true;
  }
  if (type == napi_number) {
    double number;
    napi_get_value_double(env, value, &number);
    if (number != (double)(int64_t)number || number > 9007199254740991.0 || number < -9007199254740991.0) {
      throw_bad_argument(env, what, "a safe integer");
      return false;
    }
    *out = (int64_t)number;
    return true;
  }
  throw_bad_argument(env, what, "a BigInt or a number");
  return false;
}

bool get_typed_array(napi_env env, napi_value value, napi_typedarray_type type, const char *what, const char *expected,
                     void **data, size_t *length) {
  bool is_typed_array = false;
  napi_typedarray_type actual;
  if (napi_is_typedarray(env, value, &is_typed_array) != napi_ok || !is_typed_array ||
      napi_get_typedarray_info(env, value, &actual, length, data, NULL, NULL) != napi_ok || actual != type) {
    throw_bad_argument(env, what, expected);
    return false;
  }
  return true;
}

bool get_name(napi_env env, napi_value value, const char *what, name_arg *out) {
  out->bytes = NULL;
  out->length = 0;
  bool is_buffer = false;
  napi_is_buffer(env, value, &is_buffer);
  if (is_buffer) {
    void *data;
    size_t length;
    if (napi_get_buffer_info(env, value, &data, &length) != napi_ok) return false;
    if (memchr(data, 0, length) != NULL) {
      throw_bad_argument(env, what, "free of NUL bytes");
      return false;
    }
    out->bytes = malloc(length + 1);
    if (out->bytes == NULL) {
      throw_errno(env, ENOMEM, "malloc", NULL, 0);
      return false;
    }
    memcpy(out->bytes, data, length);
    out->bytes[length] = '\0';
    out->length = length;
    return true;
  }
  napi_valuetype type;
  napi_typeof(env, value, &type);
  if (type != napi_string) {
    throw_bad_argument(env, what, "a Buffer or a string");
    return false;
  }
  size_t length;
  napi_get_value_string_utf8(env, value, NULL, 0, &length);
  out->bytes = malloc(length + 1);
  if (out->bytes == NULL) {
    throw_errno(env, ENOMEM, "malloc", NULL, 0);
    return false;
  }
  napi_get_value_string_utf8(env, value, out->bytes, length + 1, &length);
  if (strlen(out->bytes) != length) {
    free(out->bytes);
    out->bytes = NULL;
    throw_bad_argument(env, what, "free of NUL bytes");
    return false;
  }
  out->length = length;
  return true;
}

void free_name(name_arg *name) {
  free(name->bytes);
  name->bytes = NULL;
}

bool is_nullish(napi_env env, napi_value value) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok) return false;
  return type == napi_null || type == napi_undefined;
}

/* Printable ASCII stays, '\' doubles, every other byte becomes \xNN: one reading per name. */
static char *escape_bytes(const char *bytes, size_t length) {
  char *escaped = malloc(length * 4 + 1);
  if (escaped == NULL) return NULL;
  size_t at = 0;
  for (size_t i = 0; i < length; i++) {
    unsigned char byte = (unsigned char)bytes[i];
    if (byte == '\\') {
      escaped[at++] = '\\';
      escaped[at++] = '\\';
    } else if (byte >= 0x20 && byte < 0x7f) {
      escaped[at++] = (char)byte;
    } else {
      at += (size_t)sprintf(escaped + at, "\\x%02x", byte);
    }
  }
  escaped[at] = '\0';
  return escaped;
}

static void set_string(napi_env env, napi_value object, const char *key, const char *text) {
  napi_value value;
  if (napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &value) == napi_ok) {
    napi_set_named_property(env, object, key, value);
  }
}

void throw_errno(napi_env env, int error_number, const char *syscall, const char *path, size_t path_length) {
  const char *code = strerrorname_np(error_number);
  if (code == NULL) code = "UNKNOWN";
  char *escaped = path == NULL ? NULL : escape_bytes(path, path_length);
  size_t size = strlen(code) + strlen(strerror(error_number)) + strlen(syscall) + (escaped ? strlen(escaped) : 0) + 16;
  char *message = malloc(size);
  if (message == NULL) {
    free(escaped);
    napi_throw_error(env, code, "out of memory while reporting a system error");
    return;
  }
  if (escaped != NULL) {
    snprintf(message, size, "%s: %s, %s '%s'", code, strerror(error_number), syscall, escaped);
  } else {
    snprintf(message, size, "%s: %s, %s", code, strerror(error_number), syscall);
  }
  napi_value code_value, message_value, error, errno_value;
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_value);
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &message_value);
  napi_create_error(env, code_value, message_value, &error);
  napi_create_int32(env, -error_number, &errno_value);
  napi_set_named_property(env, error, "errno", errno_value);
  set_string(env, error, "syscall", syscall);
  if (escaped != NULL) set_string(env, error, "path", escaped);
  free(escaped);
  free(message);
  napi_throw(env, error);
}

void throw_type_error(napi_env env, const char *message) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
}

napi_value make_buffer(napi_env env, const void *bytes, size_t length) {
  napi_value buffer;
  void *unused;
  if (napi_create_buffer_copy(env, length, bytes, &unused, &buffer) != napi_ok) return NULL;
  return buffer;
}

napi_value make_int64_bigint(napi_env env, int64_t value) {
  napi_value result;
  napi_create_bigint_int64(env, value, &result);
  return result;
}

napi_value make_uint64_bigint(napi_env env, uint64_t value) {
  napi_value result;
  napi_create_bigint_uint64(env, value, &result);
  return result;
}

napi_value make_double(napi_env env, double value) {
  napi_value result;
  napi_create_double(env, value, &result);
  return result;
}

napi_value make_undefined(napi_env env) {
  napi_value result;
  napi_get_undefined(env, &result);
  return result;
}

napi_value make_null(napi_env env) {
  napi_value result;
  napi_get_null(env, &result);
  return result;
}

bool export_function(napi_env env, napi_value exports, const char *name, napi_callback callback) {
  napi_value function;
  if (napi_create_function(env, name, NAPI_AUTO_LENGTH, callback, NULL, &function) != napi_ok) return false;
  return napi_set_named_property(env, exports, name, function) == napi_ok;
}
