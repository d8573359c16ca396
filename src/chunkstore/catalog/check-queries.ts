// What `check` asks of the catalog: broken chunk lists, orphan rows, reference counts that do
// not match the rows they count, chunks in pack order, and which files damage breaks.
import type { CatalogDatabase } from './database';
import { hasDamageFor, isDamagedContent } from './contents-table';
import { ContentHasher } from '../../common/content-hash';
import type { ClientChunksTable } from './client-chunks-table';
import { decodedFields } from './entries-table';
import { labelsDamage } from './backups-table';
import { escapeBytes } from '../../common/escape-bytes';

export interface BrokenContent {
  readonly id: number;
  readonly size: number;
  readonly listed: number;
  readonly expected: number;
  readonly total: number;
  readonly missing: number;
}

export interface ChunkRow {
  readonly id: number;
  readonly hash: Buffer;
  readonly packId: number;
  readonly offset: number;
  readonly storedSize: number;
  readonly rawSize: number;
  /** 1 when the chunk is marked damaged (chunk rows only). */
  readonly isDamaged?: number;
}

export interface AffectedRow {
  readonly clientName: string;
  readonly backupNumber: number;
  readonly path: Buffer;
  readonly contentId: number;
}

/** Rows listed one by one in a report; past this only their count is given. */
const LISTED_ROWS = 100;

export class CheckQueries {
  private readonly statements;

  constructor(private readonly database: CatalogDatabase, private readonly clientChunks: ClientChunksTable) {
    const db = database.connection;
    this.statements = {
      missingContents: db.prepare(
        `SELECT DISTINCT e.content_id FROM entries e LEFT JOIN contents c ON c.id = e.content_id
         WHERE e.content_id IS NOT NULL AND c.id IS NULL`).pluck(),
      brokenLists: db.prepare(
        `SELECT c.id, c.size, COUNT(cc.seq) AS listed, COALESCE(MAX(cc.seq) + 1, 0) AS expected,
                COALESCE(SUM(ch.raw_size), 0) AS total, SUM(cc.chunk_id IS NOT NULL AND ch.id IS NULL) AS missing
         FROM contents c LEFT JOIN content_chunks cc ON cc.content_id = c.id LEFT JOIN chunks ch ON ch.id = cc.chunk_id
         GROUP BY c.id HAVING missing > 0 OR listed != expected OR total != c.size`),
      contentRefMismatches: db.prepare(
        `SELECT c.id FROM contents c LEFT JOIN
           (SELECT e.content_id, COUNT(*) AS n FROM entries e JOIN backups b ON b.id = e.backup_id
            WHERE b.state = 'committed' AND e.content_id IS NOT NULL GROUP BY e.content_id) counted ON counted.content_id = c.id
         WHERE c.refs != COALESCE(counted.n, 0) LIMIT ${LISTED_ROWS + 1}`).pluck(),
      clientContentMismatches: db.prepare(
        `WITH counted AS MATERIALIZED (
           SELECT b.client_id, e.content_id, COUNT(*) AS n FROM entries e JOIN backups b ON b.id = e.backup_id
           WHERE b.state = 'committed' AND e.content_id IS NOT NULL GROUP BY b.client_id, e.content_id)
         SELECT c.content_id FROM counted c LEFT JOIN client_contents k ON k.client_id = c.client_id AND k.content_id = c.content_id
           WHERE k.refs IS NOT c.n
         UNION SELECT k.content_id FROM client_contents k
           WHERE NOT EXISTS (SELECT 1 FROM counted c WHERE c.client_id = k.client_id AND c.content_id = k.content_id)
         LIMIT ${LISTED_ROWS + 1}`).pluck(),
      chunkRefMismatches: db.prepare(
        `SELECT ch.id FROM chunks ch LEFT JOIN
           (SELECT chunk_id, COUNT(*) AS n FROM content_chunks GROUP BY chunk_id) counted ON counted.chunk_id = ch.id
         WHERE ch.refs != COALESCE(counted.n, 0) LIMIT ${LISTED_ROWS + 1}`).pluck(),
      chunkPage: db.prepare(
        `SELECT id, hash, pack_id AS packId, offset, stored_size AS storedSize, raw_size AS rawSize, is_damaged AS isDamaged FROM chunks
         WHERE (pack_id, offset, id) > (?, ?, ?) ORDER BY pack_id, offset, id LIMIT ?`),
      // Live: listed by a content a committed backup references, or held by a running backup (which may
      // reference it at its commit). A failed backup's hold only lets its retry skip sending the chunk,
      // which it never does for a chunk marked damaged: it keeps nothing alive (found by review).
      isChunkLive: db.prepare(
        `SELECT 1 FROM content_chunks cc JOIN contents c ON c.id = cc.content_id WHERE cc.chunk_id = @chunkId AND c.refs > 0
         UNION ALL SELECT 1 FROM chunk_holds h JOIN backups b ON b.id = h.backup_id WHERE h.chunk_id = @chunkId AND b.state = 'running'
         LIMIT 1`).pluck(),
      chunkRow: db.prepare(
        `SELECT id, hash, pack_id AS packId, offset, stored_size AS storedSize, raw_size AS rawSize FROM chunks WHERE id = ?`),
      dropChunkRow: db.prepare(`DELETE FROM chunks WHERE id = ?`),
      clientName: db.prepare(`SELECT name FROM clients WHERE id = ?`).pluck(),
      entryLists: db.prepare(
        `SELECT c.name AS clientName, b.number AS backupNumber, b.state, e.path, e.xattrs, e.extents, e.content_id AS contentId
         FROM entries e JOIN backups b ON b.id = e.backup_id JOIN clients c ON c.id = b.client_id
         WHERE e.xattrs IS NOT NULL OR e.extents IS NOT NULL`),
      backupLabels: db.prepare(
        `SELECT c.name AS clientName, b.number AS backupNumber, b.labels FROM backups b JOIN clients c ON c.id = b.client_id ORDER BY c.name, b.number`),
      contentCount: db.prepare(`SELECT COUNT(*) FROM contents`).pluck(),
      committedCount: db.prepare(`SELECT COUNT(*) FROM backups WHERE state = 'committed'`).pluck(),
    };
  }

  missingContents(): number[] {
    return this.statements.missingContents.all() as number[];
  }

  brokenContents(): BrokenContent[] {
    return this.statements.brokenLists.all() as BrokenContent[];
  }

  /**
   * Contents whose chunk list does not hash to their hash (SHA-256 of the chunks' hashes in order): chunks swapped,
   * one entry pointing at another chunk of the right size, or the hash itself changed. Sizes and missing rows are
   * brokenContents' (those listed in `skip` are not looked at again). One pass over the chunk lists in key order;
   * before, check never recomputed it and said "no errors found" while every restore of such a file failed (red team F3).
   */
  contentHashMismatches(skip: ReadonlySet<number>): number[] {
    const rows = this.database.connection.prepare(
      `SELECT c.id, c.hash, ch.hash FROM contents c LEFT JOIN content_chunks cc ON cc.content_id = c.id LEFT JOIN chunks ch ON ch.id = cc.chunk_id
       ORDER BY c.id, cc.seq`).raw().iterate() as IterableIterator<[number, Buffer, Buffer | null]>;
    const mismatches: number[] = [];
    let current: { id: number; hash: Buffer; hasher: ContentHasher } | undefined;
    const finish = (): void => {
      if (current !== undefined && !skip.has(current.id) && !current.hasher.digest().equals(current.hash)) mismatches.push(current.id);
    };
    for (const [id, hash, chunkHash] of rows) {
      if (current?.id !== id) {
        finish();
        current = { id, hash, hasher: new ContentHasher() };
      }
      if (chunkHash !== null) current.hasher.add(chunkHash);
    }
    finish();
    return mismatches;
  }

  /**
   * SQLite's own verification of the catalog file (pages, B-trees, and every index against its table): one damaged
   * entry of the contents_hash index made a backup deduplicate a file into another's content, which no other check
   * saw (red team F1). As "catalog integrity: …" lines, at most LISTED_ROWS; none when it is sound.
   */
  integrityProblems(): string[] {
    const results = this.database.connection.prepare(`PRAGMA integrity_check(${LISTED_ROWS})`).pluck().all() as string[];
    return results.length === 1 && results[0] === 'ok' ? [] : results.map((result) => `catalog integrity: ${result}`);
  }

  /** check --repair: rebuilds every index of the catalog from its tables (what integrityProblems finds in indexes). */
  reindex(): void {
    this.database.connection.exec('REINDEX');
  }

  /** Orphan rows of each kind, as "what (ids …)" lines. */
  orphans(): string[] {
    const queries: [string, string][] = [
      [`SELECT DISTINCT content_id FROM content_chunks WHERE content_id NOT IN (SELECT id FROM contents)`, 'chunk lists of missing contents'],
      [`SELECT DISTINCT backup_id FROM entries WHERE backup_id NOT IN (SELECT id FROM backups)`, 'entries of missing backups'],
      [`SELECT id FROM backups WHERE client_id NOT IN (SELECT id FROM clients)`, 'backups of missing clients'],
      [`SELECT id FROM packs WHERE is_sealed = 0`, 'unsealed packs left after recovery'],
      [`SELECT DISTINCT client_id FROM client_chunks INDEXED BY client_chunks_pack WHERE pack_id IS NOT NULL AND pack_id NOT IN (SELECT id FROM packs)`,
        'own copies in missing packs (by client id)'],
    ];
    const problems: string[] = [];
    for (const [sql, what] of queries) {
      const ids = this.database.connection.prepare(`${sql} LIMIT ${LISTED_ROWS + 1}`).pluck().all() as number[];
      if (ids.length > 0) problems.push(`orphan rows: ${what} (ids ${listed(ids)})`);
    }
    const contents = this.statements.contentRefMismatches.all() as number[];
    if (contents.length > 0) problems.push(`reference counts of contents do not match their entries (ids ${listed(contents)})`);
    const chunks = this.statements.chunkRefMismatches.all() as number[];
    if (chunks.length > 0) problems.push(`reference counts of chunks do not match their contents (ids ${listed(chunks)})`);
    const clientContents = this.statements.clientContentMismatches.all() as number[];
    if (clientContents.length > 0) problems.push(`per-client reference counts of contents do not match their entries (content ids ${listed(clientContents)})`);
    return problems;
  }

  /**
   * Entries whose attribute or extent list does not decode, and backups whose labels do not parse: each
   * costs its one file or its labels (restores name it, backups read the file again), and is named here.
   */
  undecodableFields(): string[] {
    const problems: string[] = [];
    let more = 0;
    const add = (line: string): void => {
      if (problems.length < LISTED_ROWS) problems.push(line);
      else more++;
    };
    for (const row of this.statements.entryLists.iterate() as Iterable<
      { clientName: string; backupNumber: number; state: string; path: Buffer; xattrs: Buffer | null; extents: Buffer | null; contentId: number | null }>) {
      const { damage } = decodedFields(row.xattrs, row.extents);
      if (damage === undefined) continue;
      add(`damaged entry: client ${row.clientName}, backup ${String(row.backupNumber).padStart(7, '0')}${row.state === 'committed' ? '' : ' (running)'}, `
        + `${escapeBytes(row.path)}: ${damage}; ${row.contentId === null ? 'a restore gives it back without its attributes' : 'it is not restorable'}, `
        + 'and its next backup reads it again');
    }
    for (const row of this.statements.backupLabels.iterate() as Iterable<{ clientName: string; backupNumber: number; labels: string }>) {
      const damage = labelsDamage(row.labels);
      if (damage !== undefined) add(`damaged labels: client ${row.clientName}, backup ${String(row.backupNumber).padStart(7, '0')}: ${damage} (catalog damage)`);
    }
    if (more > 0) problems.push(`… and ${more} more damaged entries or labels`);
    return problems;
  }

  /** A client's name by id (undefined for a row whose client is gone). */
  clientNameOf(clientId: number): string | undefined {
    return this.statements.clientName.get(clientId) as string | undefined;
  }

  /** Per client, the chunks it is told the store holds that none of its backups or holds references. */
  staleKnowledge(): { clientName: string; chunks: number }[] {
    return [...this.clientChunks.unreferencedByClient()].map(([clientId, chunks]) => ({ clientName: this.clientNameOf(clientId) as string, chunks }));
  }

  /** Chunks in pack order after the given position, a page at a time. */
  chunksAfter(packId: number, offset: number, id: number, limit: number): ChunkRow[] {
    return this.statements.chunkPage.all(packId, offset, id, limit) as ChunkRow[];
  }

  /** Whether anything still uses the chunk: a damaged one that nothing does (after check --repair) breaks no file. */
  isChunkLive(chunkId: number): boolean {
    return this.statements.isChunkLive.get({ chunkId }) !== undefined;
  }

  /** A chunk's row as it is now; undefined once it is gone. */
  chunkRow(chunkId: number): ChunkRow | undefined {
    return this.statements.chunkRow.get(chunkId) as ChunkRow | undefined;
  }

  /** Recovery only: a chunk of an unsealed version-1 pack that did not read back intact. */
  dropChunkRow(chunkId: number): void {
    this.statements.dropChunkRow.run(chunkId);
  }

  counts(): { contents: number; backups: number } {
    return { contents: this.statements.contentCount.get() as number, backups: this.statements.committedCount.get() as number };
  }

  /** Files of committed or running backups whose content is, or lists, something damaged. */
  affected(damagedChunkIds: readonly number[], damagedContentIds: readonly number[]): AffectedRow[] {
    const db = this.database.connection;
    // Temp tables live in the connection's own temp schema: the store's catalog file is not written.
    db.exec(`CREATE TEMP TABLE IF NOT EXISTS check_damaged_chunks (id INTEGER PRIMARY KEY);
             CREATE TEMP TABLE IF NOT EXISTS check_damaged_contents (id INTEGER PRIMARY KEY);
             CREATE TEMP TABLE IF NOT EXISTS check_broken_contents (id INTEGER PRIMARY KEY);
             DELETE FROM check_damaged_chunks; DELETE FROM check_damaged_contents; DELETE FROM check_broken_contents;`);
    try {
      this.database.transaction(() => {
        const addChunk = db.prepare(`INSERT OR IGNORE INTO check_damaged_chunks (id) VALUES (?)`);
        for (const id of damagedChunkIds) addChunk.run(id);
        const addContent = db.prepare(`INSERT OR IGNORE INTO check_damaged_contents (id) VALUES (?)`);
        const addBroken = db.prepare(`INSERT OR IGNORE INTO check_broken_contents (id) VALUES (?)`);
        for (const id of damagedContentIds) {
          addContent.run(id);
          addBroken.run(id);
        }
        db.prepare(`INSERT OR IGNORE INTO check_damaged_contents (id)
          SELECT DISTINCT content_id FROM content_chunks WHERE chunk_id IN (SELECT id FROM check_damaged_chunks)`).run();
      });
      // A file whose damaged chunks its client has own copies of is whole for it: its restores read those.
      return db.prepare(
        `SELECT c.name AS clientName, b.number AS backupNumber, e.path, e.content_id AS contentId
         FROM entries e JOIN backups b ON b.id = e.backup_id JOIN clients c ON c.id = b.client_id
         WHERE e.content_id IN (SELECT id FROM check_damaged_contents) AND b.state = 'committed'
           AND (e.content_id IN (SELECT id FROM check_broken_contents) OR ${isDamagedContent('e.content_id')}
                OR ${hasDamageFor('e.content_id', 'b.client_id', 'dch.id IN (SELECT id FROM check_damaged_chunks)')})
         ORDER BY c.name, b.number, e.path`).all() as AffectedRow[];
    } finally {
      db.exec(`DROP TABLE IF EXISTS temp.check_damaged_chunks; DROP TABLE IF EXISTS temp.check_damaged_contents;
               DROP TABLE IF EXISTS temp.check_broken_contents;`);
    }
  }
}

function listed(ids: readonly number[]): string {
  return `${ids.slice(0, LISTED_ROWS).join(', ')}${ids.length > LISTED_ROWS ? ', ...' : ''}`;
}
