// The sweep of garbage collection: contents no committed entry references and chunks no content
// lists, minus what open sessions hold. Cheap (partial indexes on refs = 0), so it runs in one
// short transaction that no session can interleave with.
import type { CatalogDatabase } from './database';
import type { ClientChunksTable } from './client-chunks-table';
import { liveHold } from './holds-table';

/** What open sessions hold: rows they reference but have not counted yet (they count at commit). */
export interface Protection {
  hasContent(id: number): boolean;
  hasChunk(id: number): boolean;
}

export interface SweepResult {
  readonly deletedContents: number;
  readonly deletedChunks: number;
  /** Packs that lost chunks: candidates for deletion or compaction, kept in gc_pending_packs until a collection finishes with them. */
  readonly touchedPacks: ReadonlySet<number>;
}

export class GarbageQueries {
  private readonly statements;
  /**
   * Content rows deleted by sweeps since the catalog was opened: a reader that looked contents up
   * before a sweep checks them again only if this moved (see ParentEntries).
   */
  private deletedContentCount = 0;

  constructor(private readonly database: CatalogDatabase, private readonly clientChunks: ClientChunksTable) {
    const db = database.connection;
    this.statements = {
      unreferencedContents: db.prepare(`SELECT id FROM contents WHERE refs = 0`).pluck(),
      releaseChunks: db.prepare(
        `UPDATE chunks SET refs = refs - counted.n
         FROM (SELECT chunk_id, COUNT(*) AS n FROM content_chunks WHERE content_id = ? GROUP BY chunk_id) AS counted
         WHERE chunks.id = counted.chunk_id`),
      deleteContentChunks: db.prepare(`DELETE FROM content_chunks WHERE content_id = ?`),
      deleteContent: db.prepare(`DELETE FROM contents WHERE id = ? AND refs = 0`),
      // A running backup's holds stay whatever their time: its chunks are the client's own until it ends.
      expireHolds: db.prepare(`DELETE FROM chunk_holds WHERE NOT ${liveHold('chunk_holds')} RETURNING client_id`).pluck(),
      unreferencedChunks: db.prepare(
        `SELECT id, pack_id AS packId FROM chunks WHERE refs = 0 AND NOT EXISTS (SELECT 1 FROM chunk_holds h WHERE h.chunk_id = chunks.id)`),
      deleteChunk: db.prepare(`DELETE FROM chunks WHERE id = ? AND refs = 0 RETURNING hash`).pluck(),
      forgetChunk: db.prepare(`DELETE FROM client_chunks WHERE hash = ?`),
      counts: db.prepare(`SELECT (SELECT COUNT(*) FROM contents WHERE refs = 0) AS contents,
        (SELECT COUNT(*) FROM chunks WHERE refs = 0 AND NOT EXISTS (SELECT 1 FROM chunk_holds h WHERE h.chunk_id = chunks.id)) AS chunks,
        (SELECT COUNT(*) FROM gc_pending_packs) AS pendingPacks`),
      addPending: db.prepare(`INSERT OR IGNORE INTO gc_pending_packs (pack_id) VALUES (?)`),
      pending: db.prepare(`SELECT pack_id FROM gc_pending_packs ORDER BY pack_id`).pluck(),
      finishPending: db.prepare(`DELETE FROM gc_pending_packs WHERE pack_id = ?`),
    };
  }

  /** One transaction; `protection` is read inside it, so a session's lookups before it count and later ones find rows or none. */
  sweep(protection: () => Protection, now = Date.now()): SweepResult {
    return this.database.transaction(() => {
      this.clientChunks.noteExpiringHolds(now);
      const clientsWithExpiredHolds = new Set(this.statements.expireHolds.all({ now }) as number[]);
      // What clients knew only through the expired holds goes too, in this transaction: the candidates
      // live in a temp table that a crash would empty.
      for (const clientId of clientsWithExpiredHolds) this.clientChunks.forgetUnreferenced(clientId, now);
      const held = protection();
      let deletedContents = 0;
      for (const id of this.statements.unreferencedContents.all() as number[]) {
        if (held.hasContent(id)) continue;
        this.statements.releaseChunks.run(id);
        this.statements.deleteContentChunks.run(id);
        deletedContents += this.statements.deleteContent.run(id).changes;
      }
      let deletedChunks = 0;
      const touchedPacks = new Set<number>();
      for (const { id, packId } of this.statements.unreferencedChunks.all() as { id: number; packId: number }[]) {
        if (held.hasChunk(id)) continue;
        const hash = this.statements.deleteChunk.get(id) as Buffer | undefined;
        if (hash === undefined) continue;
        // No client may be told "the store has it" for a chunk that is gone.
        this.statements.forgetChunk.run(hash);
        deletedChunks++;
        touchedPacks.add(packId);
      }
      for (const packId of touchedPacks) this.statements.addPending.run(packId);
      this.deletedContentCount += deletedContents;
      return { deletedContents, deletedChunks, touchedPacks };
    }, true);
  }

  get contentsDeleted(): number {
    return this.deletedContentCount;
  }

  /** Unreferenced rows the next sweep may take (unless an open session holds them), and packs a collection has yet to finish with. */
  counts(): { contents: number; chunks: number; pendingPacks: number } {
    return this.statements.counts.get() as { contents: number; chunks: number; pendingPacks: number };
  }

  /** Packs sweeps took chunks from that no collection has finished with yet. */
  pendingPacks(): number[] {
    return this.statements.pending.all() as number[];
  }

  /** A pending pack compacted, deleted, live enough to keep, or gone: no later collection needs to look at it. */
  finishPack(packId: number): void {
    this.statements.finishPending.run(packId);
  }
}
