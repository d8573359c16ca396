// The paths one backup has received, kept as 4-byte fingerprints: a path may be 64 KiB, and keeping
// each whole for the backup's length let a client grow the server's memory with what it sent.
import { randomBytes } from 'node:crypto';
import type { KeptBytes } from './kept-bytes';
import { sipHash, sipKey, type SipKey } from './siphash';

/** Slots to start with: 256 KiB, small beside a session's other buffers. */
const INITIAL_SLOTS = 1 << 16;
/** Linear probing stays short (8.5 probes for a new path on average) up to this load. */
const MAX_LOAD = 0.75;

/**
 * A set of fingerprints in an open-addressing table (0 marks a free slot). Two paths may share one:
 * `add` then answers "maybe seen", and the caller asks the backup itself (once per ~2^32 pairs of
 * paths). The fingerprint is a SipHash-2-4 keyed with a secret of the session's (a keyed hash made for
 * tables of keys from someone else), so a client cannot choose paths that collide, neither to crowd
 * one part of the table nor to force those checks.
 */
export class SeenPaths {
  private slots: Uint32Array;
  private count = 0;
  private readonly key: SipKey;
  /** The hash's two words, read back at once (synchronous use only). */
  private readonly hashed = new Uint32Array(2);

  constructor(private readonly budget: KeptBytes) {
    budget.charge(INITIAL_SLOTS * 4, () => 'its paths');
    this.slots = new Uint32Array(INITIAL_SLOTS);
    this.key = sipKey(randomBytes(16));
  }

  /** Adds the path's fingerprint; false when it was there already (the path was maybe seen). */
  add(path: Buffer): boolean {
    const fingerprint = this.fingerprintOf(path);
    const slot = this.slotOf(fingerprint);
    if (this.slots[slot] === fingerprint) return false;
    if (this.count + 1 > this.slots.length * MAX_LOAD) {
      this.grow();
      this.slots[this.slotOf(fingerprint)] = fingerprint;
    } else {
      this.slots[slot] = fingerprint;
    }
    this.count++;
    return true;
  }

  /** False only for a path never added; true may be another path sharing its fingerprint. */
  mayHave(path: Buffer): boolean {
    const fingerprint = this.fingerprintOf(path);
    return this.slots[this.slotOf(fingerprint)] === fingerprint;
  }

  private fingerprintOf(path: Buffer): number {
    sipHash(this.key, path, this.hashed);
    const value = this.hashed[0];
    return value === 0 ? 1 : value;
  }

  /** The fingerprint's slot, or the free slot where it would go. */
  private slotOf(fingerprint: number): number {
    const mask = this.slots.length - 1;
    let slot = fingerprint & mask;
    while (this.slots[slot] !== 0 && this.slots[slot] !== fingerprint) slot = (slot + 1) & mask;
    return slot;
  }

  /** Twice the slots; charged before it is made, the old table released once the new one holds all. */
  private grow(): void {
    const old = this.slots;
    this.budget.charge(old.length * 2 * 4, () => `its ${this.count + 1} paths`);
    this.slots = new Uint32Array(old.length * 2);
    for (const fingerprint of old) if (fingerprint !== 0) this.slots[this.slotOf(fingerprint)] = fingerprint;
    this.budget.release(old.length * 4);
  }
}
