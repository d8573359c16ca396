// The chunk index: where each unique chunk lies. A row exists only for a chunk whose pack is
// sealed and stored durably, so any row may be deduplicated against at once by any session.
import type { CatalogDatabase } from './database';
import type { ChunkLocation, NewChunkRow } from './records';
import { CHUNK_LOCATION_COLUMNS } from './contents-table';

export interface KnownChunk {
  readonly chunkId: number;
  readonly rawSize: number;
}

export class ChunksTable {
  private readonly statements;

  constructor(database: CatalogDatabase) {
    const db = database.connection;
    this.statements = {
      known: db.prepare(`SELECT id AS chunkId, raw_size AS rawSize FROM chunks WHERE hash = ?`),
      insert: db.prepare(`INSERT OR IGNORE INTO chunks (hash, pack_id, offset, stored_size, raw_size) VALUES (?, ?, ?, ?, ?)`),
      idByHash: db.prepare(`SELECT id FROM chunks WHERE hash = ?`).pluck(),
      ofPack: db.prepare(`SELECT ${CHUNK_LOCATION_COLUMNS} FROM chunks ch JOIN packs p ON p.id = ch.pack_id WHERE ch.pack_id = ? ORDER BY ch.offset`),
      find: db.prepare(`SELECT ${CHUNK_LOCATION_COLUMNS} FROM chunks ch JOIN packs p ON p.id = ch.pack_id WHERE ch.hash = ?`),
      move: db.prepare(`UPDATE chunks SET pack_id = ?, offset = ?, stored_size = ? WHERE id = ? AND pack_id = ?`),
      totals: db.prepare(`SELECT COUNT(*) AS chunks, COALESCE(SUM(raw_size), 0) AS uniqueBytes, COALESCE(SUM(stored_size), 0) AS storedBytes FROM chunks`),
    };
  }

  /** The dedup lookup, once per chunk: id and size only. */
  known(hash: Buffer): KnownChunk | undefined {
    return this.statements.known.get(hash) as KnownChunk | undefined;
  }

  find(hash: Buffer): ChunkLocation | undefined {
    return this.statements.find.get(hash) as ChunkLocation | undefined;
  }

  /**
   * Records the chunks of a pack just stored, in the caller's transaction. Returns each chunk's id;
   * where another session recorded the same chunk first, its row wins and this copy is dead space.
   */
  insertRows(packId: number, rows: readonly NewChunkRow[]): number[] {
    return rows.map((row) => {
      const result = this.statements.insert.run(row.hash, packId, row.offset, row.storedSize, row.rawSize);
      return result.changes === 1 ? Number(result.lastInsertRowid) : this.statements.idByHash.get(row.hash) as number;
    });
  }

  /** The chunks recorded in one pack, in file order. */
  ofPack(packId: number): ChunkLocation[] {
    return this.statements.ofPack.all(packId) as ChunkLocation[];
  }

  /** Moves a chunk to its copy in another pack (compaction), if it still lies in fromPackId. */
  move(chunkId: number, fromPackId: number, toPackId: number, offset: number, storedSize: number): void {
    this.statements.move.run(toPackId, offset, storedSize, chunkId, fromPackId);
  }

  totals(): { chunks: number; uniqueBytes: number; storedBytes: number } {
    return this.statements.totals.get() as { chunks: number; uniqueBytes: number; storedBytes: number };
  }
}
