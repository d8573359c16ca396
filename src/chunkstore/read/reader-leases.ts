// Readers (restores, checks) and the packs each may still read: a doomed pack's object is deleted only once
// no open reader holds it. A reader holds a pack from the turn it takes a chunk location in it from the catalog.

/**
 * A reader's claim on the packs it has taken chunk locations in. The catalog never names a doomed pack (a pack is
 * doomed only once no chunk row points into it, in one synchronous transaction), so a reader that holds each pack in
 * the same turn as the query that named it can never be handed a pack deleted under it, while a pack it never
 * named is deleted on time whatever it reads and however slowly (no reader is a barrier to another client's space).
 */
export interface ReaderLease {
  /** Keeps the pack's object until release; call it in the turn the catalog named the pack, before any await. */
  hold(packName: string): void;
  release(): void;
}

export class ReaderLeases {
  /** How many open leases hold each pack: only packs some open reader named are here. */
  private readonly holders = new Map<string, number>();
  private readonly onRelease: () => void;

  /** onRelease: a lease that held packs ended, so doomed packs it kept may go now. */
  constructor(onRelease: () => void) {
    this.onRelease = onRelease;
  }

  open(): ReaderLease {
    // Each lease's packs once: a restore of a backup in 10,000 packs holds 10,000 names, whatever its chunk count.
    const held = new Set<string>();
    let last: string | undefined;
    let isReleased = false;
    return {
      hold: (packName) => {
        // A location taken after release would be read unprotected: a bug to hear of, not a pack missing later.
        if (isReleased) throw new Error(`a released reader took a chunk location in pack ${packName}`);
        // Consecutive chunks mostly lie in one pack.
        if (packName === last) return;
        last = packName;
        if (held.has(packName)) return;
        held.add(packName);
        this.holders.set(packName, (this.holders.get(packName) ?? 0) + 1);
      },
      release: () => {
        if (isReleased) return;
        isReleased = true;
        for (const packName of held) {
          const count = this.holders.get(packName)! - 1;
          if (count === 0) this.holders.delete(packName);
          else this.holders.set(packName, count);
        }
        if (held.size > 0) this.onRelease();
        held.clear();
      },
    };
  }

  /** True while an open reader holds the pack: its object must stay. */
  isHeld(packName: string): boolean {
    return this.holders.has(packName);
  }
}
