// Picks a chunker implementation by name, with the named default the store starts with.
// The store records the params it was created with, so changing this default never breaks old dedup.

import type { ChunkerFactory, ChunkerName, ChunkerParams } from './chunker';
import { createFastCdcFactory } from './fastcdc';
import { parseChunkerName as parseName, validateChunkerParams } from './params';
import { loadRabinFactory } from './rabin';

const KIB = 1024;
const MIB = 1024 * KIB;

/**
 * FastCDC: about 10x faster than rabin-wasm here (see bench/chunker-micro.ts) with the same dedup.
 * 128 KiB on average: on the benchmark's second generation (1 % of a dump's records changed) it
 * stores 14.6 MiB where 1 MiB chunks (the default before) stored 39.6, for under 1 s more on a
 * 1 GiB first backup (bench/README.md, "Chunk sizes"). Stores made with 1 MiB keep it.
 */
export const DEFAULT_CHUNKER_PARAMS: ChunkerParams = Object.freeze({
  name: 'fastcdc',
  minSize: 32 * KIB,
  avgSize: 128 * KIB,
  maxSize: 512 * KIB,
});

/** 'fastcdc' or 'rabin' (case and surrounding spaces ignored); undefined for anything else. */
export function parseChunkerName(value: string): ChunkerName | undefined {
  return parseName(value);
}

/** Validates params (throws an Error naming the bad value) and returns a factory for them. */
export async function loadChunkerFactory(params: ChunkerParams): Promise<ChunkerFactory> {
  const valid = validateChunkerParams(params);
  switch (valid.name) {
    case 'fastcdc':
      return createFastCdcFactory(valid);
    case 'rabin':
      return loadRabinFactory(valid);
  }
}
