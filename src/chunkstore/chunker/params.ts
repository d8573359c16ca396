// Checks chunker parameters before any chunker is built, with messages naming the bad value.
// Limits keep the hash masks inside 32 bits and a chunk well inside one bounded protocol message.

import type { ChunkerName, ChunkerParams } from './chunker';

export const CHUNKER_NAMES: readonly ChunkerName[] = Object.freeze(['fastcdc', 'rabin']);

/** Below the rolling window (64 bytes) a Rabin hash would see no full window. */
export const SMALLEST_MIN_SIZE = 64;
/** Keeps 2^(avg bits + 2) inside a 32-bit gear hash and a chunk's buffer modest. */
export const LARGEST_MAX_SIZE = 256 * 1024 * 1024;

export function parseChunkerName(value: string): ChunkerName | undefined {
  const name = value.trim().toLowerCase();
  return (CHUNKER_NAMES as readonly string[]).includes(name) ? (name as ChunkerName) : undefined;
}

/** Throws an Error saying which value is wrong; returns a frozen copy of valid params. */
export function validateChunkerParams(params: ChunkerParams): ChunkerParams {
  const { name, minSize, avgSize, maxSize } = params;
  if (!(CHUNKER_NAMES as readonly string[]).includes(name)) {
    throw new Error(`unknown chunker "${String(name)}" (known: ${CHUNKER_NAMES.join(', ')})`);
  }
  for (const [label, value] of [['minSize', minSize], ['avgSize', avgSize], ['maxSize', maxSize]] as const) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new Error(`chunker ${name}: ${label} must be a positive integer number of bytes, got ${String(value)}`);
    }
  }
  if (minSize < SMALLEST_MIN_SIZE) {
    throw new Error(`chunker ${name}: minSize ${minSize} is below ${SMALLEST_MIN_SIZE} bytes`);
  }
  if (!(minSize < avgSize && avgSize < maxSize)) {
    throw new Error(`chunker ${name}: sizes must satisfy minSize < avgSize < maxSize, got ${minSize} / ${avgSize} / ${maxSize}`);
  }
  if (maxSize > LARGEST_MAX_SIZE) {
    throw new Error(`chunker ${name}: maxSize ${maxSize} is above ${LARGEST_MAX_SIZE} bytes`);
  }
  return Object.freeze({ name, minSize, avgSize, maxSize });
}
