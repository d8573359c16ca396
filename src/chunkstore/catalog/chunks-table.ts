// The chunk index: where each unique chunk lies. A row exists only for a chunk whose pack is
// sealed and stored durably, so any row may be deduplicated against at once by any session.
import type { CatalogDatabase } from './database';
import type { ChunkLocation, DamagedPlace, NewChunkRow } from './records';
import { CHUNK_LOCATION_COLUMNS } from './contents-table';

export interface KnownChunk {
  readonly chunkId: number;
  readonly rawSize: number;
  readonly storedSize: number;
  /** SHA-256 of the stored payload; null for a row from before schema 6. */
  readonly payloadHash: Buffer | null;
}

export class ChunksTable {
  private readonly statements;

  constructor(private readonly database: CatalogDatabase) {
    const db = database.connection;
    this.statements = {
      known: db.prepare(`SELECT id AS chunkId, raw_size AS rawSize, stored_size AS storedSize, payload_hash AS payloadHash FROM chunks WHERE hash = ? AND is_damaged = 0`),
      // A damaged row takes the new copy's place (the chunk is healed, its id and references unchanged), in
      // whatever encoding the copy came: its bytes are what a file of any client holding the chunk needs. Clients
      // without an own copy then restore that encoding (a sign that someone sent the bytes again, given only
      // after damage); refusing other encodings left a chunk that no upgraded client could heal, and files
      // lost whose bytes another client had sent. A sound row stays where it is and the new copy is dead space,
      // or its sender's own copy (ClientChunksTable.placeOwnCopies).
      insert: db.prepare(
        `INSERT INTO chunks (hash, pack_id, offset, stored_size, raw_size, payload_hash) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT(hash) DO UPDATE SET pack_id = excluded.pack_id, offset = excluded.offset, stored_size = excluded.stored_size,
           payload_hash = excluded.payload_hash, is_damaged = 0
         WHERE chunks.is_damaged = 1 AND chunks.raw_size = excluded.raw_size`),
      markDamaged: db.prepare(`UPDATE chunks SET is_damaged = 1 WHERE id = ? AND pack_id = ? AND offset = ?`),
      clearDamage: db.prepare(`UPDATE chunks SET is_damaged = 0 WHERE id = ? AND pack_id = ? AND offset = ? AND is_damaged = 1`),
      damagedCount: db.prepare(`SELECT COUNT(*) FROM chunks WHERE is_damaged = 1`).pluck(),
      idByHash: db.prepare(`SELECT id FROM chunks WHERE hash = ?`).pluck(),
      ofPack: db.prepare(`SELECT ${CHUNK_LOCATION_COLUMNS} FROM chunks ch JOIN packs p ON p.id = ch.pack_id WHERE ch.pack_id = ? ORDER BY ch.offset`),
      find: db.prepare(`SELECT ${CHUNK_LOCATION_COLUMNS} FROM chunks ch JOIN packs p ON p.id = ch.pack_id WHERE ch.hash = ?`),
      move: db.prepare(`UPDATE chunks SET pack_id = ?, offset = ?, stored_size = ? WHERE id = ? AND pack_id = ?`),
      totals: db.prepare(`SELECT COUNT(*) AS chunks, COALESCE(SUM(raw_size), 0) AS uniqueBytes, COALESCE(SUM(stored_size), 0) AS storedBytes FROM chunks`),
    };
  }

  /** The dedup lookup, once per chunk: id and sizes only. */
  known(hash: Buffer): KnownChunk | undefined {
    return this.statements.known.get(hash) as KnownChunk | undefined;
  }

  find(hash: Buffer): ChunkLocation | undefined {
    return this.statements.find.get(hash) as ChunkLocation | undefined;
  }

  /**
   * Records the chunks of a pack just stored, in the caller's transaction. Returns each chunk's id;
   * where another session or client recorded the same chunk first, its row wins and this copy is dead
   * space or its sender's own copy: such records are pushed onto `placedElsewhere`.
   */
  insertRows(packId: number, rows: readonly NewChunkRow[], placedElsewhere?: NewChunkRow[]): number[] {
    return rows.map((row) => {
      const { changes } = this.statements.insert.run(row.hash, packId, row.offset, row.storedSize, row.rawSize, row.payloadHash ?? null);
      // Neither inserted nor healed: the row lies elsewhere and this record is not it.
      if (changes === 0) placedElsewhere?.push(row);
      return this.statements.idByHash.get(row.hash) as number;
    });
  }

  /** Counts the calls of markDamaged in this process: what a session's copy of the damaged contents is checked against. */
  private damageMarks = 0;

  /**
   * These chunks did not read back where they were read: no session deduplicates against them from now on. A
   * row no longer at that place (a backup stored its bytes afresh, which heals it, or compaction moved it) is
   * left as it is: its old place proves nothing. Returns how many rows were marked.
   */
  markDamaged(places: readonly DamagedPlace[]): number {
    let marked = 0;
    this.database.transaction(() => {
      for (const { chunkId, packId, offset } of places) marked += this.statements.markDamaged.run(chunkId, packId, offset).changes;
    }, true);
    this.damageMarks++;
    return marked;
  }

  /**
   * These chunks, marked damaged, were read whole and re-hashed where their rows place them, and match:
   * the mark goes (a pack that was missing for a while and is back, a read error that passed). Kept, it
   * outlived what it stood for, and check --repair took out of their backups files that read back whole
   * (found by review). A row moved since is left as it is. Returns how many marks were cleared.
   */
  clearDamage(places: readonly DamagedPlace[]): number {
    let cleared = 0;
    this.database.transaction(() => {
      for (const { chunkId, packId, offset } of places) cleared += this.statements.clearDamage.run(chunkId, packId, offset).changes;
    }, true);
    return cleared;
  }

  /** Changes whenever chunks are marked damaged (only this process writes the catalog: its lock). */
  get damageGeneration(): number {
    return this.damageMarks;
  }

  damagedCount(): number {
    return this.statements.damagedCount.get() as number;
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
