/* The gear-hash scan of FastCDC (src/chunkstore/chunker/fastcdc.ts): the chunker's hot loop, in C
 * because V8 runs it at ~400 MB/s here. Same 32-bit arithmetic as the TypeScript it replaced, so
 * every boundary, and with it dedup against existing stores, stays byte for byte the same. */
#include "common.h"

/* gearFindCut(data, from, end, mask, state, gear) -> the index just after the first byte of
 * data[from..end) where (hash & mask) == 0, or -1. The hash starts from state[0] and is left there,
 * so a scan can go on in the next buffer; gear is the 256-entry table. */
static napi_value js_gear_find_cut(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  if (!get_args(env, info, 6, argv)) return NULL;
  void *data_pointer, *state_pointer, *gear_pointer;
  size_t data_length, state_length, gear_length;
  uint32_t from, end;
  int32_t mask;
  if (!get_typed_array(env, argv[0], napi_uint8_array, "data", "a Buffer", &data_pointer, &data_length) ||
      !get_uint32(env, argv[1], "from", &from) || !get_uint32(env, argv[2], "end", &end) ||
      !get_int32(env, argv[3], "mask", &mask) ||
      !get_typed_array(env, argv[4], napi_int32_array, "state", "an Int32Array", &state_pointer, &state_length) ||
      !get_typed_array(env, argv[5], napi_int32_array, "gear", "an Int32Array", &gear_pointer, &gear_length)) {
    return NULL;
  }
  if (from > end || end > data_length) {
    throw_type_error(env, "gearFindCut: from..end must lie within data");
    return NULL;
  }
  if (state_length < 1 || gear_length != 256) {
    throw_type_error(env, "gearFindCut: state needs one element and gear 256");
    return NULL;
  }
  const uint8_t *bytes = data_pointer;
  const int32_t *gear = gear_pointer;
  int32_t *state = state_pointer;
  const uint32_t cut_mask = (uint32_t)mask;
  uint32_t hash = (uint32_t)state[0];
  for (size_t index = from; index < end; index++) {
    hash = (hash << 1) + (uint32_t)gear[bytes[index]];
    if ((hash & cut_mask) == 0) {
      state[0] = (int32_t)hash;
      return make_double(env, (double)(index + 1));
    }
  }
  state[0] = (int32_t)hash;
  return make_double(env, -1);
}

bool register_gear(napi_env env, napi_value exports) {
  return export_function(env, exports, "gearFindCut", js_gear_find_cut);
}
