// Store-wide figures from the catalog: logical bytes of kept backups, unique chunk bytes before
// and after compression. Statements are prepared once per instance, as the catalog does.
import type { Catalog } from '../../chunkstore/catalog/catalog';

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
  private readonly backupTotals;
  private readonly chunkTotals;
  private readonly packCount;
  private readonly clientNames;

  constructor(catalog: Catalog) {
    const sqlite = catalog.sqlite;
    this.backupTotals = sqlite.prepare(`SELECT COUNT(*) AS backups, COALESCE(SUM(logical_bytes), 0) AS logicalBytes FROM backups WHERE state = 'committed'`);
    this.chunkTotals = sqlite.prepare(`SELECT COUNT(*) AS chunks, COALESCE(SUM(raw_size), 0) AS uniqueBytes, COALESCE(SUM(stored_size), 0) AS storedBytes FROM chunks`);
    this.packCount = sqlite.prepare(`SELECT COUNT(*) FROM packs`).pluck();
    this.clientNames = sqlite.prepare(`SELECT name FROM clients ORDER BY name`).pluck();
  }

  storeFigures(): StoreFigures {
    const backups = this.backupTotals.get() as { backups: number; logicalBytes: number };
    const chunks = this.chunkTotals.get() as { chunks: number; uniqueBytes: number; storedBytes: number };
    return {
      backups: backups.backups,
      logicalBytes: backups.logicalBytes,
      uniqueBytes: chunks.uniqueBytes,
      storedBytes: chunks.storedBytes,
      chunks: chunks.chunks,
      packs: this.packCount.get() as number,
      dedupRatio: ratio(backups.logicalBytes, chunks.uniqueBytes),
      compressionRatio: ratio(chunks.uniqueBytes, chunks.storedBytes),
    };
  }

  /** Every client that ever started a backup, including ones whose record was removed since. */
  knownClients(): string[] {
    return this.clientNames.all() as string[];
  }
}

function ratio(numerator: number, denominator: number): number {
  return denominator > 0 ? numerator / denominator : 1;
}
