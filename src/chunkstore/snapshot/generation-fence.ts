// The catalog records the newest snapshot generation it knows the bucket holds, so a catalog put back from an
// older copy (a VM snapshot rolled back) is told apart from the current one: its snapshots would take the next
// generation numbers and prune the newer catalog's, after which `recover` could no longer reach its backups.
import type { Catalog } from '../catalog/catalog';
import { BackupError } from '../../common/errors';

/**
 * Meta key: the generation this catalog stored last (written before its copy is taken, so a snapshot holds its own
 * number), or the bucket's newest when `recover` installed it or the operator accepted it (accept-catalog).
 */
export const KNOWN_GENERATION_KEY = 'catalog_snapshot_generation';

/** Undefined for a catalog that never stored a snapshot, or stored its last with a version that did not record it. */
export function knownGeneration(catalog: Catalog): number | undefined {
  const recorded = catalog.meta.get(KNOWN_GENERATION_KEY);
  return recorded === undefined ? undefined : Number(recorded);
}

export function recordKnownGeneration(catalog: Catalog, generation: number): void {
  catalog.transaction(() => catalog.meta.set(KNOWN_GENERATION_KEY, String(generation)), true);
}

/**
 * The bucket holds a catalog snapshot newer than any this catalog knows: no snapshot is stored (the next ones would
 * prune it) until the operator recovers the newer catalog or accepts this one.
 */
export class SnapshotFencedError extends BackupError {
  readonly newestGeneration: number;
  readonly knownGeneration: number;
  constructor(catalogFile: string, location: string, newestGeneration: number, known: number) {
    super('IO', `${catalogFile} is older than its bucket: ${location} holds catalog snapshot generation ${newestGeneration}, `
      + `this catalog knows generation ${known} at most (a catalog.db or store folder put back from an older copy, a VM snapshot rolled back?). `
      + 'No catalog snapshot is stored until you choose, as each would prune a newer one (packs are kept either way): stop the server, '
      + 'move this store folder\'s catalog.db aside and run `cpsbackup-server recover` to get the newer catalog back, '
      + `or run \`cpsbackup-server accept-catalog\` to keep this catalog (the snapshots up to generation ${newestGeneration} are then pruned by its next ones)`);
    this.newestGeneration = newestGeneration;
    this.knownGeneration = known;
  }
}
