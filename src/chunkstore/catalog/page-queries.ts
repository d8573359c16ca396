// A page of a backup's entries with their contents and chunk locations, in two queries instead
// of two per file: what a restore reads, page after page.
import type { CatalogDatabase } from './database';
import type { ChunkLocation, ContentRecord, StoredEntry } from './records';
import { ENTRY_COLUMNS, toEntry, type EntryRow } from './entries-table';
import { RESTORE_LOCATION_COLUMNS, RESTORE_LOCATION_JOINS } from './contents-table';

export interface ListedContent extends ContentRecord {
  /** In order; null where the chunk's row is missing; undefined when the content is too big to list. */
  readonly chunks: readonly (ChunkLocation | null)[] | undefined;
}

export interface EntriesPage {
  readonly entries: StoredEntry[];
  readonly contents: ReadonlyMap<number, ListedContent>;
}

/** A chunksOfPathRange row: content id, seq, then RESTORE_LOCATION_COLUMNS (all null for a lost chunk row). */
type ChunkOfContentRow = [
  contentId: number, seq: number, chunkId: number | null, hash: Buffer, packId: number, packName: string,
  offset: number, storedSize: number, rawSize: number, payloadHash: Buffer | null,
];

export class PageQueries {
  private readonly statements;

  constructor(database: CatalogDatabase) {
    const db = database.connection;
    this.statements = {
      page: db.prepare(`SELECT ${ENTRY_COLUMNS} FROM entries WHERE backup_id = ? AND path > ? ORDER BY path LIMIT ?`).raw(),
      contentsOfPathRange: db.prepare(
        `SELECT id, hash, size FROM contents WHERE id IN
           (SELECT content_id FROM entries WHERE backup_id = ? AND path > ? AND path <= ? AND content_id IS NOT NULL)`).raw(),
      chunksOfPathRange: db.prepare(
        `SELECT cc.content_id AS contentId, cc.seq, ${RESTORE_LOCATION_COLUMNS} FROM content_chunks cc ${RESTORE_LOCATION_JOINS}
         WHERE cc.content_id IN (SELECT e.content_id FROM entries e JOIN contents c ON c.id = e.content_id
                                 WHERE e.backup_id = @backup AND e.path > @after AND e.path <= @last AND c.size <= @upTo)
         ORDER BY cc.content_id, cc.seq`).raw(),
    };
  }

  /**
   * Entries after `afterPath` in path order with their contents. Contents up to listChunksUpTo
   * bytes come with their chunk locations (null for a chunk row that is gone), the backup's client's
   * own copies where it has any; bigger ones page through ContentsTable.chunks(), so a page stays small.
   */
  entriesWithContents(backupId: number, clientId: number, afterPath: Buffer, pageSize: number, listChunksUpTo: number): EntriesPage {
    const entries = (this.statements.page.all(backupId, afterPath, pageSize) as EntryRow[]).map(toEntry);
    const contents = new Map<number, ListedContent>();
    if (entries.length === 0) return { entries, contents };
    const lastPath = entries[entries.length - 1].path;
    for (const [id, hash, size] of this.statements.contentsOfPathRange.all(backupId, afterPath, lastPath) as [number, Buffer, number][]) {
      contents.set(id, { id, hash, size, chunks: size <= listChunksUpTo ? [] : undefined });
    }
    const rows = this.statements.chunksOfPathRange.all({ backup: backupId, client: clientId, after: afterPath, last: lastPath, upTo: listChunksUpTo }) as ChunkOfContentRow[];
    for (const [contentId, , chunkId, hash, packId, packName, offset, storedSize, rawSize, payloadHash] of rows) {
      const chunks = contents.get(contentId)?.chunks as (ChunkLocation | null)[] | undefined;
      if (chunks === undefined) continue;
      // A gap in seq is a lost content_chunks row: the size check after reassembly reports it.
      chunks.push(chunkId === null ? null : { chunkId, hash, packId, packName, offset, storedSize, rawSize, payloadHash });
    }
    return { entries, contents };
  }
}
