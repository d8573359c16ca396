// The paths --strip made entries of the backup land on, so that a second entry mapped to the path of a
// first one is a collision whatever is there now. The inodes this restore made (restored-inodes.ts) cannot
// tell it when the first entry was already there, found identical or kept: a second `--overwrite` run over
// its own first result replaced the first entry by the second without a word, exit 0 (review).
import { createHash } from 'node:crypto';

/** What the first entry mapped to a path was: folders alike merge, anything else meeting one collides. */
export type StrippedKind = 'folder' | 'other';

const FIRST_SLOTS = 1024;
const EMPTY = 0;
const FOLDER = 1;
const OTHER = 2;

/**
 * A set of 128-bit fingerprints (SHA-256's first half) of paths, open-addressed in a BigUint64Array
 * pair per slot and at most three quarters full: 17 to 34 bytes an entry, where a Set of the paths
 * themselves would hold every path again. Two paths of one restore share a fingerprint with odds
 * of about n²/2¹²⁹: never, in practice, and even then said as a collision, never a silent loss.
 */
export class StrippedPaths {
  private keys = new BigUint64Array(FIRST_SLOTS * 2);
  private kinds = new Uint8Array(FIRST_SLOTS);
  private count = 0;

  /** The kind of the entry that first landed on path, or undefined when it is the first (then it is noted as `kind`). */
  claim(path: Buffer, kind: StrippedKind): StrippedKind | undefined {
    const digest = createHash('sha256').update(path).digest();
    const high = digest.readBigUInt64LE(0);
    const low = digest.readBigUInt64LE(8);
    const index = this.slotOf(high, low);
    const there = this.kinds[index];
    if (there !== EMPTY) return there === FOLDER ? 'folder' : 'other';
    if ((this.count + 1) * 4 > this.kinds.length * 3) {
      this.grow();
      return this.claim(path, kind);
    }
    this.put(index, high, low, kind === 'folder' ? FOLDER : OTHER);
    this.count++;
    return undefined;
  }

  /** The slot holding the fingerprint, or the empty one where it would go (the table is never full). */
  private slotOf(high: bigint, low: bigint): number {
    const mask = this.kinds.length - 1;
    // The fingerprint is a hash already: its low bits spread evenly.
    for (let index = Number(high & 0xffffffffn) & mask; ; index = (index + 1) & mask) {
      if (this.kinds[index] === EMPTY) return index;
      if (this.keys[index * 2] === high && this.keys[index * 2 + 1] === low) return index;
    }
  }

  private put(index: number, high: bigint, low: bigint, kind: number): void {
    this.keys[index * 2] = high;
    this.keys[index * 2 + 1] = low;
    this.kinds[index] = kind;
  }

  private grow(): void {
    const [keys, kinds] = [this.keys, this.kinds];
    this.keys = new BigUint64Array(keys.length * 2);
    this.kinds = new Uint8Array(kinds.length * 2);
    for (let index = 0; index < kinds.length; index++) {
      if (kinds[index] === EMPTY) continue;
      const [high, low] = [keys[index * 2], keys[index * 2 + 1]];
      this.put(this.slotOf(high, low), high, low, kinds[index]);
    }
  }
}
