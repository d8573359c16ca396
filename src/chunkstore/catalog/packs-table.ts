// Packs the backend holds, and packs doomed by garbage collection whose objects wait until no
// reader that might still use them is left.
import type { CatalogDatabase } from './database';

export interface PackRecord {
  readonly id: number;
  readonly name: string;
  readonly size: number;
}

export interface PackUsage extends PackRecord {
  /** Bytes of the records that catalog rows (chunks, clients' own copies) still point at. */
  readonly liveBytes: number;
}

/**
 * Bytes of the live records of pack p: its chunk rows' and the clients' own copies' (client_chunks rows
 * with a pack: see that table). A pack is live while either points into it. Per pack, by the indexes.
 */
function liveBytesOf(recordHeaderSize: number): string {
  return `(COALESCE((SELECT SUM(${recordHeaderSize} + ch.stored_size) FROM chunks ch WHERE ch.pack_id = p.id), 0)
    + COALESCE((SELECT SUM(${recordHeaderSize} + own.stored_size) FROM client_chunks own INDEXED BY client_chunks_pack WHERE own.pack_id = p.id), 0))`;
}

export class PacksTable {
  private readonly statements;

  constructor(database: CatalogDatabase, recordHeaderSize: number) {
    const db = database.connection;
    this.statements = {
      insert: db.prepare(`INSERT INTO packs (name, size, is_sealed, created_at) VALUES (?, ?, 1, ?)`),
      all: db.prepare(`SELECT id, name, size FROM packs ORDER BY id`),
      count: db.prepare(`SELECT COUNT(*) FROM packs`).pluck(),
      totalSize: db.prepare(`SELECT COALESCE(SUM(size), 0) FROM packs`).pluck(),
      unsealed: db.prepare(`SELECT id, name, size FROM packs WHERE is_sealed = 0`),
      seal: db.prepare(`UPDATE packs SET size = ?, is_sealed = 1 WHERE id = ?`),
      resize: db.prepare(`UPDATE packs SET size = ? WHERE id = ?`),
      usage: db.prepare(`SELECT p.id, p.name, p.size, ${liveBytesOf(recordHeaderSize)} AS liveBytes FROM packs p ORDER BY p.id`),
      usageOf: db.prepare(`SELECT p.id, p.name, p.size, ${liveBytesOf(recordHeaderSize)} AS liveBytes FROM packs p WHERE p.id = ?`),
      // A pack row comes with its chunk rows, in one transaction: a sealed one with none left is all dead space.
      empty: db.prepare(
        `SELECT p.id, p.name, p.size, 0 AS liveBytes FROM packs p
         WHERE p.is_sealed = 1 AND NOT EXISTS (SELECT 1 FROM chunks ch WHERE ch.pack_id = p.id)
           AND NOT EXISTS (SELECT 1 FROM client_chunks own INDEXED BY client_chunks_pack WHERE own.pack_id = p.id) ORDER BY p.id`),
      // Damaged ones stay out: their rewrite fails on the damaged chunk at every collection (gc --all still looks).
      small: db.prepare(
        `SELECT p.id, p.name, p.size, ${liveBytesOf(recordHeaderSize)} AS liveBytes FROM packs p
         WHERE p.is_sealed = 1 AND p.size < ? AND NOT EXISTS (SELECT 1 FROM chunks d WHERE d.pack_id = p.id AND d.is_damaged = 1)
         ORDER BY p.id`),
      hasChunks: db.prepare(
        `SELECT 1 WHERE EXISTS (SELECT 1 FROM chunks WHERE pack_id = @pack)
           OR EXISTS (SELECT 1 FROM client_chunks INDEXED BY client_chunks_pack WHERE pack_id = @pack)`).pluck(),
      delete: db.prepare(`DELETE FROM packs WHERE id = ?`),
      doom: db.prepare(`INSERT OR IGNORE INTO doomed_packs (name, doomed_at) VALUES (?, ?)`),
      doomed: db.prepare(`SELECT name, doomed_at AS doomedAt FROM doomed_packs ORDER BY doomed_at`),
      forget: db.prepare(`DELETE FROM doomed_packs WHERE name = ?`),
      isDoomed: db.prepare(`SELECT 1 FROM doomed_packs WHERE name = ?`).pluck(),
      isRecorded: db.prepare(`SELECT 1 FROM packs WHERE name = ?`).pluck(),
      recordIntent: db.prepare(`INSERT OR IGNORE INTO pack_intents (name, recorded_at) VALUES (?, ?)`),
      intents: db.prepare(`SELECT name FROM pack_intents`).pluck(),
      clearIntents: db.prepare(`DELETE FROM pack_intents`),
      forgetIntent: db.prepare(`DELETE FROM pack_intents WHERE name = ?`),
    };
  }

  /** A pack about to be put (in its own durable transaction, before the put): see pack_intents in schema.ts. */
  recordIntent(name: string, recordedAt: number): void {
    this.statements.recordIntent.run(name, recordedAt);
  }

  /** Packs put or about to be put that have no row yet. */
  intents(): Set<string> {
    return new Set(this.statements.intents.all() as string[]);
  }

  /** An object that will never get a row is gone (a cover pack deleted): nothing is left for a start to find. */
  forgetIntent(name: string): void {
    this.statements.forgetIntent.run(name);
  }

  /** At a start, once every object the intents name has a row or is gone. */
  clearIntents(): void {
    this.statements.clearIntents.run();
  }

  /** Inside a caller's transaction: the pack and its chunk rows go in together. */
  insert(name: string, size: number, createdAt: number): number {
    return Number(this.statements.insert.run(name, size, createdAt).lastInsertRowid);
  }

  all(): PackRecord[] {
    return this.statements.all.all() as PackRecord[];
  }

  count(): number {
    return this.statements.count.get() as number;
  }

  /** Bytes of every pack as stored (sealed records included): what the backend holds. */
  totalSize(): number {
    return this.statements.totalSize.get() as number;
  }

  /** Packs a version-1 store was still writing when it stopped. */
  unsealed(): PackRecord[] {
    return this.statements.unsealed.all() as PackRecord[];
  }

  seal(packId: number, size: number): void {
    this.statements.seal.run(size, packId);
  }

  /**
   * A pack found shorter than recorded once no row points past its stored end any more (its lost chunks were
   * stored again elsewhere): its size is what is stored, so only a further loss shows again.
   */
  resize(packId: number, size: number): void {
    this.statements.resize.run(size, packId);
  }

  usage(): PackUsage[] {
    return this.statements.usage.all() as PackUsage[];
  }

  /** Sealed packs no chunk row or own copy points into (a crash between compaction's move and its doom leaves one). */
  empty(): PackUsage[] {
    return this.statements.empty.all() as PackUsage[];
  }

  /** Sealed packs smaller than maxSize with no chunk marked damaged, oldest first. */
  small(maxSize: number): PackUsage[] {
    return this.statements.small.all(maxSize) as PackUsage[];
  }

  usageOf(packId: number): PackUsage | undefined {
    return this.statements.usageOf.get(packId) as PackUsage | undefined;
  }

  /**
   * Removes a pack's row when no chunk row and no client's own copy points into it any more, and dooms
   * its object, in the caller's transaction. Returns false (and changes nothing) if a record still lies there.
   */
  doom(packId: number, name: string, at: number): boolean {
    if (this.statements.hasChunks.get({ pack: packId }) !== undefined) return false;
    this.statements.delete.run(packId);
    this.statements.doom.run(name, at);
    return true;
  }

  doomed(): { name: string; doomedAt: number }[] {
    return this.statements.doomed.all() as { name: string; doomedAt: number }[];
  }

  isDoomed(name: string): boolean {
    return this.statements.isDoomed.get(name) !== undefined;
  }

  /** Whether the catalog holds a pack of this name now. */
  isRecorded(name: string): boolean {
    return this.statements.isRecorded.get(name) !== undefined;
  }

  /** The doomed pack's object is gone. */
  forget(name: string): void {
    this.statements.forget.run(name);
  }
}
