// The inodes (dev+ino) this restore made or restored, so that a second entry reaching one of them
// (--strip, a case-insensitive target) is found by what is there, never guessed from its name.
import type { Inode } from './restore-tree/link-targets';

/**
 * A set of inode numbers per device, open-addressed in a BigUint64Array: 8 bytes a slot, at most half
 * full, so 16 to 32 bytes an entry (a 1,000,000-file restore: 16 to 32 MB; a Set of "dev:ino" strings
 * would take ~100 MB). Inode 0 is no inode on Linux; it is kept aside all the same.
 */
export class RestoredInodes {
  private readonly devices = new Map<string, InodeTable>();

  add(inode: Inode): void {
    const dev = String(inode.dev);
    let table = this.devices.get(dev);
    if (table === undefined) {
      table = new InodeTable();
      this.devices.set(dev, table);
    }
    table.add(BigInt(inode.ino));
  }

  has(inode: Inode): boolean {
    return this.devices.get(String(inode.dev))?.has(BigInt(inode.ino)) ?? false;
  }
}

const FIRST_SLOTS = 1024;

class InodeTable {
  private slots = new BigUint64Array(FIRST_SLOTS);
  private count = 0;
  private hasZero = false;

  add(ino: bigint): void {
    if (ino === 0n) {
      this.hasZero = true;
      return;
    }
    if ((this.count + 1) * 2 > this.slots.length) this.grow();
    if (insert(this.slots, ino)) this.count++;
  }

  has(ino: bigint): boolean {
    if (ino === 0n) return this.hasZero;
    const slots = this.slots;
    const mask = slots.length - 1;
    for (let index = slotOf(ino, mask); ; index = (index + 1) & mask) {
      const there = slots[index];
      if (there === 0n) return false;
      if (there === ino) return true;
    }
  }

  private grow(): void {
    const old = this.slots;
    this.slots = new BigUint64Array(old.length * 2);
    for (const ino of old) if (ino !== 0n) insert(this.slots, ino);
  }
}

/** Whether ino was new in slots (a power of two long, never full). */
function insert(slots: BigUint64Array, ino: bigint): boolean {
  const mask = slots.length - 1;
  for (let index = slotOf(ino, mask); ; index = (index + 1) & mask) {
    const there = slots[index];
    if (there === ino) return false;
    if (there === 0n) {
      slots[index] = ino;
      return true;
    }
  }
}

/** Inode numbers run in sequence: mixed (Fibonacci hashing of both halves) so they spread over the table. */
function slotOf(ino: bigint, mask: number): number {
  const low = Number(ino & 0xffffffffn);
  const high = Number((ino >> 32n) & 0xffffffffn);
  return (Math.imul(low ^ Math.imul(high, 0x85ebca6b), 0x9e3779b1) >>> 0) & mask;
}
