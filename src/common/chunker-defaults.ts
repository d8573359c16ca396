// The chunker a new store starts with unless server.conf names another: shared by the configuration
// (which validates sizes against it) and the store. The store records the params it was created
// with, so changing this default never breaks an existing store's dedup.

const KIB = 1024;

/**
 * FastCDC: about 10x faster than rabin-wasm here (see bench/chunker-micro.ts) with the same dedup.
 * 128 KiB on average: on the benchmark's second generation (1 % of a dump's records changed) it
 * stores 14.6 MiB where 1 MiB chunks (the default before) stored 39.6, for under 1 s more on a
 * 1 GiB first backup (bench/README.md, "Chunk sizes"). Stores made with 1 MiB keep it.
 */
export const DEFAULT_CHUNKER_PARAMS = Object.freeze({
  name: 'fastcdc' as const,
  minSize: 32 * KIB,
  avgSize: 128 * KIB,
  maxSize: 512 * KIB,
});
