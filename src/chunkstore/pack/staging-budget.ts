// The store-wide bound on the staging folder (s3_staging_max): every pack writer (backups and GC
// compaction) and every catalog snapshot reserves its bytes here before it writes them, and gives them
// back once the upload consumed the file. A writer that finds no room waits: backpressure, never an error.
import type { Logger } from '../../common/logger';

const MEBIBYTE = 1024 * 1024;

export interface StagingFigures {
  /** Bytes reserved in the staging folder now (open packs, sealed packs waiting for upload, snapshots). */
  readonly bytes: number;
  /** The most ever reserved at once since the store opened: never above limitBytes. */
  readonly maxBytes: number;
  /** The bound; null when the staging folder is unbounded (a local store moves packs, it does not upload them). */
  readonly limitBytes: number | null;
  /** Times a writer had to wait for room. */
  readonly waits: number;
  /** Writers waiting for room right now. */
  readonly waiting: number;
}

/** What the budget asks of a pack writer when every byte is held by open packs that nobody is uploading. */
export interface StagingHolder {
  /** Seal the open pack now (smaller than the target) so its upload frees room. */
  sealSoon(): void;
}

export class StagingBudget {
  private reserved = 0;
  private highWater = 0;
  /** Bytes of packs already handed to an upload: they come back without anyone's action. */
  private draining = 0;
  /** Uploads under way or queued, for the log line. */
  private uploads = 0;
  private waitCount = 0;
  private waiters = 0;
  private readonly holders = new Set<StagingHolder>();
  private wake: { promise: Promise<void>; resolve(): void } | undefined;

  /** limitBytes undefined: unbounded (still counted, for the figures). */
  constructor(private readonly limitBytes: number | undefined, private readonly logger?: Logger) {}

  get figures(): StagingFigures {
    return {
      bytes: this.reserved, maxBytes: this.highWater, limitBytes: this.limitBytes ?? null, waits: this.waitCount, waiting: this.waiters,
    };
  }

  /** A writer with an open pack; it may be asked to seal early (see StagingHolder). */
  addHolder(holder: StagingHolder): void {
    this.holders.add(holder);
  }

  removeHolder(holder: StagingHolder): void {
    this.holders.delete(holder);
  }

  /**
   * Takes bytes if they fit now. An empty folder always grants, so a single reservation larger than the bound
   * (a snapshot of a catalog bigger than s3_staging_max) still proceeds alone rather than wait for ever.
   */
  tryReserve(bytes: number): boolean {
    if (this.limitBytes !== undefined && this.reserved > 0 && this.reserved + bytes > this.limitBytes) return false;
    this.reserved += bytes;
    this.highWater = Math.max(this.highWater, this.reserved);
    return true;
  }

  /**
   * Takes bytes, waiting as long as needed. When nothing is being uploaded while it waits, every staged byte
   * sits in open packs: unstick lets the caller seal its own (resolving true when it did), and holders are asked to.
   */
  async reserve(bytes: number, unstick?: () => Promise<boolean>): Promise<void> {
    if (this.tryReserve(bytes)) return;
    this.waitCount += 1;
    this.waiters += 1;
    if (this.waiters === 1) {
      const mebibytes = (value: number) => (value / MEBIBYTE).toFixed(1);
      this.logger?.info(`staging folder full (${mebibytes(this.reserved)} of ${mebibytes(this.limitBytes ?? 0)} MiB): `
        + `waiting for ${this.uploads} pack upload${this.uploads === 1 ? '' : 's'}`);
    }
    try {
      while (!this.tryReserve(bytes)) {
        if (this.draining === 0) {
          // Every staged byte sits in open packs: only sealing one frees room.
          if (unstick !== undefined && await unstick()) continue;
          for (const holder of this.holders) holder.sealSoon();
        }
        await this.changed();
      }
    } finally {
      this.waiters -= 1;
    }
  }

  /** The pack holding these bytes was handed to its upload. */
  startDraining(bytes: number): void {
    this.draining += bytes;
    this.uploads += 1;
  }

  /** Gives bytes back: the staged file is gone (uploaded, or removed); wasDraining for a pack handed to its upload. */
  release(bytes: number, wasDraining = false): void {
    this.reserved = Math.max(0, this.reserved - bytes);
    if (wasDraining) {
      this.draining = Math.max(0, this.draining - bytes);
      this.uploads = Math.max(0, this.uploads - 1);
    }
    this.notify();
  }

  /** Wakes the waiters to look again (a pack was sealed, so there is something to wait for). */
  notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.resolve();
  }

  private changed(): Promise<void> {
    if (this.wake === undefined) {
      let resolve!: () => void;
      const promise = new Promise<void>((done) => { resolve = done; });
      this.wake = { promise, resolve };
    }
    return this.wake.promise;
  }
}
