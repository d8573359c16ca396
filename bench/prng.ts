// Seeded pseudo-random numbers for the benchmark corpus.
// The corpus must be byte-identical for a given seed, so nothing here may touch Math.random or the clock.

/** Mixes a seed with any number of integer or string salts into one 32-bit value (FNV-1a then a finalizer). */
export function hashSeed(seed: number, ...salts: Array<number | string>): number {
  let hash = (0x811c9dc5 ^ seed) >>> 0;
  const mix = (value: number): void => {
    hash = Math.imul(hash ^ (value & 0xff), 0x01000193) >>> 0;
  };
  for (const salt of salts) {
    if (typeof salt === 'number') {
      // Integers up to 2^53 are mixed as two 32-bit halves so large indexes stay distinct.
      const low = salt >>> 0;
      const high = Math.floor(salt / 0x100000000) >>> 0;
      for (const word of [low, high]) for (let shift = 0; shift < 32; shift += 8) mix(word >>> shift);
    } else {
      for (let index = 0; index < salt.length; index++) mix(salt.charCodeAt(index));
    }
    mix(0x1f);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b) >>> 0;
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35) >>> 0;
  hash ^= hash >>> 16;
  return hash >>> 0;
}

/** A small, fast generator (mulberry32); the state lives in the instance, never in a module global. */
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  static from(seed: number, ...salts: Array<number | string>): Random {
    return new Random(hashSeed(seed, ...salts));
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let value = this.state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [min, max] inclusive. */
  integer(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }

  bytes(length: number): Buffer {
    const buffer = Buffer.allocUnsafe(length);
    for (let index = 0; index < length; index++) buffer[index] = Math.floor(this.next() * 256);
    return buffer;
  }
}
