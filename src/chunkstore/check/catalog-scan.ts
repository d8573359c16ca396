// Proves the catalog agrees with itself: every file's content exists, every content's chunk list
// is complete and adds up to its size, and no row hangs off a parent that is gone.
import type { Catalog } from '../catalog/catalog';
import type { ContentDamage } from './report';

export interface CatalogScanResult {
  readonly damagedContents: ContentDamage[];
  readonly problems: string[];
  readonly garbage: { contents: number; chunks: number };
  readonly contents: number;
  readonly backups: number;
}

/** Rows listed one by one in a report; past this only their count is given. */
const LISTED_ROWS = 100;

export function scanCatalog(catalog: Catalog): CatalogScanResult {
  const database = catalog.sqlite;
  const damagedContents: ContentDamage[] = [];

  const missingContents = database.prepare(
    `SELECT DISTINCT e.content_id AS id FROM entries e LEFT JOIN contents c ON c.id = e.content_id
     WHERE e.content_id IS NOT NULL AND c.id IS NULL`).pluck().all() as number[];
  for (const contentId of missingContents) damagedContents.push({ contentId, reason: 'content row is missing from the catalog' });

  const brokenLists = database.prepare(
    `SELECT c.id, c.size, COUNT(cc.seq) AS listed, COALESCE(MAX(cc.seq) + 1, 0) AS expected,
            COALESCE(SUM(ch.raw_size), 0) AS total, SUM(cc.chunk_id IS NOT NULL AND ch.id IS NULL) AS missing
     FROM contents c LEFT JOIN content_chunks cc ON cc.content_id = c.id LEFT JOIN chunks ch ON ch.id = cc.chunk_id
     GROUP BY c.id HAVING missing > 0 OR listed != expected OR total != c.size`).all() as
    { id: number; size: number; listed: number; expected: number; total: number; missing: number }[];
  for (const content of brokenLists) {
    const reason = content.missing > 0
      ? `${content.missing} of its ${content.listed} chunks are missing from the catalog`
      : content.listed !== content.expected
        ? `its chunk list has gaps (${content.listed} chunks, last at position ${content.expected - 1})`
        : `its chunks add up to ${content.total} bytes, not ${content.size}`;
    damagedContents.push({ contentId: content.id, reason });
  }

  const problems: string[] = [];
  const orphanQueries: [string, string][] = [
    [`SELECT DISTINCT content_id FROM content_chunks WHERE content_id NOT IN (SELECT id FROM contents)`, 'chunk lists of missing contents'],
    [`SELECT DISTINCT backup_id FROM entries WHERE backup_id NOT IN (SELECT id FROM backups)`, 'entries of missing backups'],
    [`SELECT id FROM backups WHERE client_id NOT IN (SELECT id FROM clients)`, 'backups of missing clients'],
    [`SELECT id FROM backups WHERE state != 'committed'`, 'unfinished backups left after recovery'],
    [`SELECT id FROM packs WHERE is_sealed = 0`, 'unsealed packs left after recovery'],
  ];
  for (const [sql, what] of orphanQueries) {
    const ids = database.prepare(`${sql} LIMIT ${LISTED_ROWS + 1}`).pluck().all() as number[];
    if (ids.length === 0) continue;
    const listed = ids.slice(0, LISTED_ROWS).join(', ');
    problems.push(`orphan rows: ${what} (ids ${listed}${ids.length > LISTED_ROWS ? ', ...' : ''})`);
  }

  const garbage = {
    contents: database.prepare(
      `SELECT COUNT(*) FROM contents WHERE id NOT IN (SELECT content_id FROM entries WHERE content_id IS NOT NULL)`).pluck().get() as number,
    // What the next gc would sweep: chunks no content of any entry lists (unreferenced contents' chunks included).
    chunks: database.prepare(
      `SELECT COUNT(*) FROM chunks WHERE id NOT IN (SELECT chunk_id FROM content_chunks
         WHERE content_id IN (SELECT content_id FROM entries WHERE content_id IS NOT NULL))`).pluck().get() as number,
  };
  return {
    damagedContents,
    problems,
    garbage,
    contents: database.prepare(`SELECT COUNT(*) FROM contents`).pluck().get() as number,
    backups: database.prepare(`SELECT COUNT(*) FROM backups WHERE state = 'committed'`).pluck().get() as number,
  };
}
