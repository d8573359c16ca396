// A tiny seeded pseudo-random generator (splitmix32) for the gear table and test fixtures.
// Deterministic on purpose: chunk boundaries, and so dedup across versions, depend on its output.

/** Returns a function yielding the next unsigned 32-bit value of the sequence started by `seed`. */
export function splitmix32(seed: number): () => number {
  let state = seed | 0;
  return () => {
    // A Weyl sequence scrambled by murmur3's finalizer: full period, well mixed.
    state = (state + 0x9e3779b9) | 0;
    let mixed = state;
    mixed = Math.imul(mixed ^ (mixed >>> 16), 0x85ebca6b);
    mixed = Math.imul(mixed ^ (mixed >>> 13), 0xc2b2ae35);
    return (mixed ^ (mixed >>> 16)) >>> 0;
  };
}

/** Fills `target` with bytes of the sequence started by `seed`; same seed, same bytes. */
export function fillSeeded(target: Uint8Array, seed: number): Uint8Array {
  const next = splitmix32(seed);
  let index = 0;
  for (; index + 4 <= target.length; index += 4) {
    const value = next();
    target[index] = value & 0xff;
    target[index + 1] = (value >>> 8) & 0xff;
    target[index + 2] = (value >>> 16) & 0xff;
    target[index + 3] = value >>> 24;
  }
  if (index < target.length) {
    let value = next();
    for (; index < target.length; index++, value >>>= 8) target[index] = value & 0xff;
  }
  return target;
}
