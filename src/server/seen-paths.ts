// The paths one backup has received, kept as 4-byte fingerprints: a path may be 64 KiB, and keeping
// each whole for the backup's length let a client grow the server's memory with what it sent.
import { createHash, randomBytes, type Hash } from 'node:crypto';
import type { KeptBytes } from './kept-bytes';

/** Slots to start with: 256 KiB, small beside a session's other buffers. */
const INITIAL_SLOTS = 1 << 16;
/** Linear probing stays short (8.5 probes for a new path on average) up to this load. */
const MAX_LOAD = 0.75;

/**
 * A set of fingerprints in an open-addressing table (0 marks a free slot). Two paths may share one:
 * `add` then answers "maybe seen", and the caller asks the backup itself (once per ~2^32 pairs of
 * paths). The fingerprint is a SHA-256 keyed with a secret of the session's, so a client cannot
 * choose paths that collide, neither to crowd one part of the table nor to force those checks.
 */
export class SeenPaths {
  private slots: Uint32Array;
  private count = 0;
  private readonly keyed: Hash;

  constructor(private readonly budget: KeptBytes) {
    budget.charge(INITIAL_SLOTS * 4, () => 'its paths');
    this.slots = new Uint32Array(INITIAL_SLOTS);
    this.keyed = createHash('sha256').update(randomBytes(16));
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
    // The keyed state copied: hashing the key again per path cost a third more.
    const value = this.keyed.copy().update(path).digest().readUInt32LE(0);
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
