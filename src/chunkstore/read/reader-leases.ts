// Readers (restores, checks) that may still read packs GC has doomed: a doomed pack's object is
// deleted only once every reader that began before the doom has ended.

export interface ReaderLease {
  release(): void;
}

export class ReaderLeases {
  /** Incremented by every doom; a reader remembers the value it began at. */
  private epoch = 0;
  private readonly active = new Map<object, number>();
  private readonly onIdle: () => void;

  constructor(onIdle: () => void) {
    this.onIdle = onIdle;
  }

  open(): ReaderLease {
    const token = {};
    this.active.set(token, this.epoch);
    let isReleased = false;
    return {
      release: () => {
        if (isReleased) return;
        isReleased = true;
        this.active.delete(token);
        this.onIdle();
      },
    };
  }

  /** A pack doomed now may be deleted once isSafeToDelete(the returned epoch). */
  doom(): number {
    return ++this.epoch;
  }

  /** True when no reader that began before the doom at `epoch` is still reading. */
  isSafeToDelete(epoch: number): boolean {
    for (const began of this.active.values()) if (began < epoch) return false;
    return true;
  }
}
