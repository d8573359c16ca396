// Rows that open write sessions hold without having counted them yet: chunks they deduplicated
// against or stored, contents they reuse or created. GC's sweep skips them; a session's hold ends
// when it commits (its references are then counted) or is abandoned.
import type { Protection } from '../catalog/garbage-queries';

export class SessionHold {
  readonly contents = new Set<number>();
  readonly chunks = new Set<number>();
}

export class OpenSessions implements Protection {
  private readonly holds = new Set<SessionHold>();

  open(): SessionHold {
    const hold = new SessionHold();
    this.holds.add(hold);
    return hold;
  }

  close(hold: SessionHold): void {
    this.holds.delete(hold);
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
}
