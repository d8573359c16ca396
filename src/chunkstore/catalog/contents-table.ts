// Contents: a file's bytes as an ordered list of chunks, shared by every entry with the same bytes.
// Creating one counts a reference on each of its chunks; entries count theirs at commit.
import type { CatalogDatabase } from './database';
import type { ChunkLocation, ContentRecord } from './records';

export const CHUNK_LOCATION_COLUMNS =
  'ch.id AS chunkId, ch.hash, ch.pack_id AS packId, p.name AS packName, ch.offset, ch.stored_size AS storedSize, ch.raw_size AS rawSize';

/**
 * A chunk's location for a restore of one client's backup: its own copy where it has one (the payload it
 * sent, where the shared copy holds another client's encoding of the same bytes), else the shared copy.
 * Columns as CHUNK_LOCATION_COLUMNS, from RESTORE_LOCATION_JOINS with the backup's client as @client.
 */
export const RESTORE_LOCATION_COLUMNS =
  `ch.id AS chunkId, ch.hash, COALESCE(own.pack_id, ch.pack_id) AS packId, p.name AS packName, COALESCE(own.offset, ch.offset) AS offset,
   CASE WHEN own.pack_id IS NULL THEN ch.stored_size ELSE own.stored_size END AS storedSize, ch.raw_size AS rawSize,
   CASE WHEN own.pack_id IS NULL THEN ch.payload_hash END AS payloadHash`;
/** From content_chunks cc; a chunk whose row is missing gives nulls. */
export const RESTORE_LOCATION_JOINS =
  `LEFT JOIN chunks ch ON ch.id = cc.chunk_id
   LEFT JOIN client_chunks own ON own.client_id = @client AND own.hash = ch.hash AND own.pack_id IS NOT NULL
   LEFT JOIN packs p ON p.id = COALESCE(own.pack_id, ch.pack_id)`;

/**
 * Whether the damaged chunk `chunk` (an alias of chunks) is one the client (an SQL expression for its id)
 * has an own copy of: its restores read that copy, so the damage does not touch its files.
 */
export function ownCopyOf(client: string, chunk: string): string {
  return `EXISTS (SELECT 1 FROM client_chunks own WHERE own.client_id = ${client} AND own.hash = ${chunk}.hash AND own.pack_id IS NOT NULL)`;
}

/**
 * The contents holding a damaged chunk that the client (an SQL expression for its id) has no own copy of:
 * cheap, since few chunks are ever damaged and those are indexed. Written as the damaged chunks first
 * (chunks_damaged), then their contents (content_chunks_chunk): as a join, SQLite scanned all of
 * content_chunks instead, every file of the store, once per carried run of every backup (1.5-4 ms a
 * run on a store of 23,000; it grows with the store).
 */
export function damagedContentIdsFor(client: string): string {
  return `SELECT DISTINCT cc.content_id FROM content_chunks cc WHERE cc.chunk_id IN
    (SELECT ch.id FROM chunks ch WHERE ch.is_damaged = 1 AND NOT ${ownCopyOf(client, 'ch')})
    UNION SELECT content_id FROM damaged_contents`;
}

/**
 * Whether content `content` holds a damaged chunk (one `isDamaged` says of alias dch) the client has no
 * own copy of: for a file already known to hold damage, the question its client's copies answer.
 */
export function hasDamageFor(content: string, client: string, isDamaged = 'dch.is_damaged = 1'): string {
  return `EXISTS (SELECT 1 FROM content_chunks dcc JOIN chunks dch ON dch.id = dcc.chunk_id
    WHERE dcc.content_id = ${content} AND ${isDamaged} AND NOT ${ownCopyOf(client, 'dch')})`;
}

/** Whether content `content` is marked damaged itself (its chunk list: damaged_contents), whoever's copies it reads. */
export function isDamagedContent(content: string): string {
  return `EXISTS (SELECT 1 FROM damaged_contents dco WHERE dco.content_id = ${content})`;
}

export class ContentsTable {
  private readonly statements;

  constructor(private readonly database: CatalogDatabase) {
    const db = database.connection;
    this.statements = {
      // A content with a damaged chunk is never reused: the file is stored again, which heals the chunk. Nor is one
      // whose chunk list is marked damaged: the file is stored as a new content.
      find: db.prepare(
        `SELECT id, hash, size FROM contents c WHERE hash = ? AND size = ? AND NOT EXISTS
           (SELECT 1 FROM content_chunks cc JOIN chunks ch ON ch.id = cc.chunk_id WHERE cc.content_id = c.id AND ch.is_damaged = 1)
           AND NOT ${isDamagedContent('c.id')}
         LIMIT 1`),
      markDamaged: db.prepare(`INSERT INTO damaged_contents (content_id, reason) SELECT id, @reason FROM contents WHERE id = @id
        ON CONFLICT(content_id) DO UPDATE SET reason = excluded.reason`),
      clearDamage: db.prepare(`DELETE FROM damaged_contents WHERE content_id = ?`),
      markedDamaged: db.prepare(`SELECT content_id FROM damaged_contents`).pluck(),
      damaged: db.prepare(damagedContentIdsFor('?')).pluck(),
      byId: db.prepare(`SELECT id, hash, size FROM contents WHERE id = ?`),
      // Past every id a chunk list names too: a list whose row was lost (damage) is not taken over by a new content,
      // which collided with it (UNIQUE content_chunks) and failed every backup storing a new file (red team F5).
      insert: db.prepare(`INSERT INTO contents (id, hash, size) VALUES (MAX(
        (SELECT COALESCE(MAX(id), 0) FROM contents), (SELECT COALESCE(MAX(content_id), 0) FROM content_chunks)) + 1, ?, ?)`),
      insertChunk: db.prepare(`INSERT INTO content_chunks (content_id, seq, chunk_id) VALUES (?, ?, ?)`),
      countChunkReference: db.prepare(`UPDATE chunks SET refs = refs + 1 WHERE id = ?`),
      chunksPage: db.prepare(
        `SELECT cc.seq, ${RESTORE_LOCATION_COLUMNS} FROM content_chunks cc ${RESTORE_LOCATION_JOINS}
         WHERE cc.content_id = @content AND cc.seq >= @seq ORDER BY cc.seq LIMIT @limit`),
    };
  }

  /**
   * The dedup lookup. The row found is checked to be the one asked for: the lookup goes through the contents_hash
   * index, and one damaged entry there gave another file's content (a backup and its restore exit 0 with the wrong
   * bytes, red team F1). Read again by id from the table itself (the index covers hash and size: the lookup's own
   * columns come from the damaged entry). A row that is not is passed over (the file is stored as a new content).
   */
  find(hash: Buffer, size: number): ContentRecord | undefined {
    const found = this.statements.find.get(hash, size) as ContentRecord | undefined;
    if (found === undefined) return undefined;
    const row = this.byId(found.id);
    return row !== undefined && row.size === size && row.hash.equals(hash) ? row : undefined;
  }

  /**
   * check: these contents' chunk lists are broken (their reasons), and no other is: marks exactly these, in one
   * durable transaction (a list cannot heal, but a mark a later check does not confirm, rows put right by hand, goes).
   * Returns how many marks were added.
   */
  markDamagedExactly(damaged: readonly { readonly contentId: number; readonly reason: string }[]): number {
    return this.database.transaction(() => {
      const current = new Set(this.statements.markedDamaged.all() as number[]);
      const found = new Set(damaged.map((damage) => damage.contentId));
      for (const id of current) if (!found.has(id)) this.statements.clearDamage.run(id);
      let added = 0;
      for (const { contentId, reason } of damaged) {
        const { changes } = this.statements.markDamaged.run({ id: contentId, reason });
        if (changes > 0 && !current.has(contentId)) added++;
      }
      return added;
    }, true);
  }

  /** Contents marked damaged (their chunk lists). */
  markedDamaged(): number[] {
    return this.statements.markedDamaged.all() as number[];
  }

  /**
   * Contents holding a damaged chunk the client has no own copy of (cheap: few chunks are ever damaged,
   * and those are indexed): its files with them are to be sent again.
   */
  damagedIds(clientId: number): Set<number> {
    return new Set(this.statements.damaged.all(clientId) as number[]);
  }

  byId(id: number): ContentRecord | undefined {
    return this.statements.byId.get(id) as ContentRecord | undefined;
  }

  /** Whether contentId still names the content with this hash and size (ids of dropped contents are taken again). */
  isContent(id: number, expected: { readonly hash: Buffer; readonly size: number }): boolean {
    const current = this.byId(id);
    return current !== undefined && current.hash.equals(expected.hash) && current.size === expected.size;
  }

  /**
   * Inside a caller's transaction only: a nested transaction is a SAVEPOINT, which cost five times
   * the inserts themselves when a session flushed thousands of small files at once.
   */
  insertRows(hash: Buffer, size: number, chunkIds: readonly number[]): number {
    const id = Number(this.statements.insert.run(hash, size).lastInsertRowid);
    chunkIds.forEach((chunkId, seq) => {
      this.statements.insertChunk.run(id, seq, chunkId);
      this.statements.countChunkReference.run(chunkId);
    });
    return id;
  }

  insert(hash: Buffer, size: number, chunkIds: readonly number[]): number {
    return this.database.transaction(() => this.insertRows(hash, size, chunkIds));
  }

  /**
   * A content's chunks in order, paged, as a restore of a backup of clientId reads them (its own copies
   * where it has any); a chunk whose row is missing yields chunkId null (damage). onPage sees each page's rows in the
   * turn they were read, before any is yielded: a reader holds their packs there (a page waits while the content streams).
   * The list ends early where the content under contentId is no longer `expected` (see isContent).
   */
  *chunks(contentId: number, expected: { readonly hash: Buffer; readonly size: number }, clientId: number,
    onPage: (rows: readonly ChunkLocation[]) => void = () => undefined, pageSize = 512): Generator<ChunkLocation | { chunkId: null; seq: number }> {
    let seq = 0;
    for (;;) {
      // A page waits while the content streams: meanwhile GC may drop the content and a new one take its
      // id (no AUTOINCREMENT), whose chunks a reader went on reading as this content's, another client's
      // bytes included (review). Checked in the page's own turn, so nothing can come between.
      if (!this.isContent(contentId, expected)) return;
      const rows = this.statements.chunksPage.all({ content: contentId, client: clientId, seq, limit: pageSize }) as (ChunkLocation & { seq: number })[];
      onPage(rows.filter((row) => row.chunkId !== null));
      for (const row of rows) yield row.chunkId === null ? { chunkId: null, seq: row.seq } : row;
      if (rows.length < pageSize) return;
      seq = rows[rows.length - 1].seq + 1;
    }
  }
}
