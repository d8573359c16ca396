// The gear table of FastCDC: one pseudo-random 32-bit value per byte value.
// Changing the seed or the generator moves every boundary and breaks dedup with older stores.

import { splitmix32 } from './prng';

const GEAR_SEED = 0x63707362; // "cpsb"

function buildGearTable(): Int32Array {
  const next = splitmix32(GEAR_SEED);
  const table = new Int32Array(256);
  for (let byte = 0; byte < 256; byte++) table[byte] = next() | 0;
  return table;
}

/** Read-only by convention: an Int32Array keeps the hot loop in small-integer math. */
export const GEAR_TABLE: Readonly<Int32Array> = buildGearTable();
