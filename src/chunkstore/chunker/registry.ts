// Picks a chunker implementation by name, with the named default the store starts with.
// The store records the params it was created with, so changing this default never breaks old dedup.

import type { ChunkerFactory, ChunkerName, ChunkerParams } from './chunker';
import { createFastCdcFactory } from './fastcdc';
import { parseChunkerName as parseName, validateChunkerParams } from './params';
import { loadRabinFactory } from './rabin';

/** The product's default, defined beside the configuration that may override it (common/chunker-defaults.ts). */
export { DEFAULT_CHUNKER_PARAMS } from '../../common/chunker-defaults';

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
