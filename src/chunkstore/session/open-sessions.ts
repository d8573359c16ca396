// Rows that open write sessions hold without having counted them yet: chunks they deduplicated
// against or stored, contents they reuse or created. GC's sweep skips them; a session's hold ends
// when it commits (its references are then counted) or is abandoned.
import type { Protection } from '../catalog/garbage-queries';

export class SessionHold {
  readonly contents = new Set<number>();
  readonly chunks = new Set<number>();
  /**
   * Set while the session commits or drops its backup: its references are then counted (or let go) in
   * that transaction, and what it holds keeps nothing of its client's knowledge any more.
   */
  private ending = false;
  /**
   * Contents reused (from the parent, or found in the catalog) whose entries are not written yet: until its
   * flush, nothing in the catalog says the backup uses them. Cleared at each flush.
   */
  readonly reusedSinceFlush = new Set<number>();

  /** clientId: the backup's client, whose knowledge the hold keeps while the session runs (heldFor). */
  constructor(readonly clientId: number) {}

  /** Runs the transaction that commits or drops the session's backup with the hold marked as ending. */
  whileEnding<T>(run: () => T): T {
    this.ending = true;
    try {
      return run();
    } finally {
      this.ending = false;
    }
  }

  get isEnding(): boolean {
    return this.ending;
  }
}

export class OpenSessions implements Protection {
  private readonly holds = new Set<SessionHold>();
  /** Told of each session's end with its client: what a deletion deferred for it is looked at again then. */
  onClosed: ((clientId: number) => void) | undefined;

  open(clientId: number): SessionHold {
    const hold = new SessionHold(clientId);
    this.holds.add(hold);
    return hold;
  }

  close(hold: SessionHold): void {
    if (this.holds.delete(hold)) this.onClosed?.(hold.clientId);
  }

  get count(): number {
    return this.holds.size;
  }

  hasContent(id: number): boolean {
    for (const hold of this.holds) if (hold.contents.has(id)) return true;
    return false;
  }

  hasChunk(id: number): boolean {
    for (const hold of this.holds) if (hold.chunks.has(id)) return true;
    return false;
  }

  /**
   * What the running sessions of one client hold, or undefined when none runs: a chunk such a session
   * was told the client holds (or reuses a content of) stays the client's own until the session ends,
   * whatever deletion comes meanwhile (ClientChunksTable.forgetUnreferenced).
   */
  heldFor(clientId: number): ClientSessionHolds | undefined {
    const holds = [...this.holds].filter((hold) => hold.clientId === clientId && !hold.isEnding);
    if (holds.length === 0) return undefined;
    return {
      hasChunk: (id) => holds.some((hold) => hold.chunks.has(id)),
      // The contents it wrote entries for are the catalog's to keep (ClientChunksTable's running-backup rule).
      contentIds: () => holds.flatMap((hold) => [...hold.reusedSinceFlush]),
    };
  }
}

/** What one client's running sessions hold: chunks, and contents (whose chunks the caller looks up). */
export interface ClientSessionHolds {
  hasChunk(id: number): boolean;
  contentIds(): number[];
}
