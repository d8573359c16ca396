// Store-wide figures: logical bytes of kept backups, unique chunk bytes before and after compression,
// as ratios the dashboard and /metrics show.
import type { ChunkStore } from '../../chunkstore/store';

export interface StoreFigures {
  readonly backups: number;
  /** Sum of the kept backups' logical sizes: what restoring every one of them would write. */
  readonly logicalBytes: number;
  /** Sum of the chunks' raw sizes: the data after dedup, before compression. */
  readonly uniqueBytes: number;
  /** Sum of the chunks' stored sizes: after dedup and compression. */
  readonly storedBytes: number;
  readonly chunks: number;
  readonly packs: number;
  /** logical / unique; 1 when there is nothing yet. */
  readonly dedupRatio: number;
  /** unique / stored; 1 when there is nothing yet. */
  readonly compressionRatio: number;
}

export class CatalogFigures {
  constructor(private readonly store: ChunkStore) {}

  /** `figures`: the store's own, when the caller read them already (they sum every chunk). */
  storeFigures(figures = this.store.figures()): StoreFigures {
    return {
      backups: figures.backups,
      logicalBytes: figures.logicalBytes,
      uniqueBytes: figures.uniqueBytes,
      storedBytes: figures.storedBytes,
      chunks: figures.chunks,
      packs: figures.packs,
      dedupRatio: ratio(figures.logicalBytes, figures.uniqueBytes),
      compressionRatio: ratio(figures.uniqueBytes, figures.storedBytes),
    };
  }

  /** Every client that ever started a backup, including ones whose record was removed since. */
  knownClients(): string[] {
    return this.store.knownClients();
  }
}

function ratio(numerator: number, denominator: number): number {
  return denominator > 0 ? numerator / denominator : 1;
}
