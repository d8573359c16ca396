// Backups and restores share the store; garbage collection needs it alone (restic's lock model).
// Writer-preferring: once GC waits, new sessions queue behind it so GC cannot starve.

export interface Release {
  (): void;
}

export class StoreLock {
  private sharedHolders = 0;
  private isExclusiveHeld = false;
  private readonly waitingExclusive: (() => void)[] = [];
  private readonly waitingShared: (() => void)[] = [];

  get activeShared(): number {
    return this.sharedHolders;
  }

  async acquireShared(): Promise<Release> {
    if (this.isExclusiveHeld || this.waitingExclusive.length > 0) {
      await new Promise<void>((resolve) => this.waitingShared.push(resolve));
    } else {
      this.sharedHolders++;
    }
    return once(() => {
      this.sharedHolders--;
      this.wake();
    });
  }

  async acquireExclusive(): Promise<Release> {
    if (this.isExclusiveHeld || this.sharedHolders > 0) {
      await new Promise<void>((resolve) => this.waitingExclusive.push(resolve));
    } else {
      this.isExclusiveHeld = true;
    }
    return once(() => {
      this.isExclusiveHeld = false;
      this.wake();
    });
  }

  private wake(): void {
    if (this.isExclusiveHeld) return;
    if (this.waitingExclusive.length > 0) {
      if (this.sharedHolders === 0) {
        this.isExclusiveHeld = true;
        this.waitingExclusive.shift()!();
      }
      return;
    }
    while (this.waitingShared.length > 0) {
      this.sharedHolders++;
      this.waitingShared.shift()!();
    }
  }
}

function once(fn: () => void): Release {
  let isDone = false;
  return () => {
    if (isDone) return;
    isDone = true;
    fn();
  };
}
