// Proves the catalog agrees with itself: every file's content exists, every content's chunk list
// is complete and adds up to its size, reference counts match, and no row hangs off a parent that is gone.
import type { Catalog } from '../catalog/catalog';
import type { ContentDamage, StaleKnowledge } from './report';

export interface CatalogScanResult {
  readonly damagedContents: ContentDamage[];
  readonly problems: string[];
  readonly staleKnowledge: StaleKnowledge[];
  readonly garbage: { contents: number; chunks: number };
  readonly contents: number;
  readonly backups: number;
}

export function scanCatalog(catalog: Catalog): CatalogScanResult {
  const damagedContents: ContentDamage[] = [];
  for (const contentId of catalog.checks.missingContents()) damagedContents.push({ contentId, reason: 'content row is missing from the catalog' });
  for (const content of catalog.checks.brokenContents()) {
    const reason = content.missing > 0
      ? `${content.missing} of its ${content.listed} chunks are missing from the catalog`
      : content.listed !== content.expected
        ? `its chunk list has gaps (${content.listed} chunks, last at position ${content.expected - 1})`
        : `its chunks add up to ${content.total} bytes, not ${content.size}`;
    damagedContents.push({ contentId: content.id, reason });
  }
  const listed = new Set(damagedContents.map((damage) => damage.contentId));
  for (const contentId of catalog.checks.contentHashMismatches(listed)) {
    damagedContents.push({ contentId, reason: 'its chunk list does not hash to its content hash (chunks changed, swapped or the hash changed)' });
  }
  const counts = catalog.checks.counts();
  return {
    damagedContents, problems: [...catalog.checks.integrityProblems(), ...catalog.checks.orphans(), ...catalog.checks.undecodableFields()], staleKnowledge: catalog.checks.staleKnowledge(), garbage: catalog.garbage.counts(), ...counts,
  };
}
