// The sweep of garbage collection: contents no committed entry references and chunks no content
// lists, minus what open sessions hold. Cheap (partial indexes on refs = 0), so it runs in one
// short transaction that no session can interleave with. A count is never trusted alone: before a
// row goes, an indexed lookup confirms nothing lists it, and a count that disagrees is repaired instead.
import type { CatalogDatabase } from './database';
import type { ClientChunksTable } from './client-chunks-table';
import { liveHold } from './holds-table';

/** What open sessions hold: rows they reference but have not counted yet (they count at commit). */
export interface Protection {
  hasContent(id: number): boolean;
  hasChunk(id: number): boolean;
}

/**
 * A reference count that said "unused" while rows still use it: damage (or a bug) that the sweep would
 * have turned into lost files. Repaired (recounted from the rows it counts) and kept instead of deleted.
 */
export interface RepairedCount {
  readonly kind: 'content' | 'chunk';
  readonly id: number;
  /** The count as found (0). */
  readonly was: number;
  /** The count recounted: committed entries naming the content, or contents listing the chunk. */
  readonly now: number;
  /** For a content: one file that uses it (client, backup number, path), to name in the log. */
  readonly example?: { readonly clientName: string; readonly backupNumber: number; readonly path: Buffer };
}

export interface SweepResult {
  readonly deletedContents: number;
  readonly deletedChunks: number;
  /** Packs that lost chunks: candidates for deletion or compaction, kept in gc_pending_packs until a collection finishes with them. */
  readonly touchedPacks: ReadonlySet<number>;
  /** Counts that said unused while rows still used them: repaired, their rows kept. */
  readonly repairedCounts: readonly RepairedCount[];
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
      // Never below 0: a count already too low would go negative and its chunk never be looked at again (every
      // row at 0 is confirmed before it goes, so the floor hides nothing from the sweep).
      releaseChunks: db.prepare(
        `UPDATE chunks SET refs = MAX(refs - counted.n, 0)
         FROM (SELECT chunk_id, COUNT(*) AS n FROM content_chunks WHERE content_id = ? GROUP BY chunk_id) AS counted
         WHERE chunks.id = counted.chunk_id`),
      deleteContentChunks: db.prepare(`DELETE FROM content_chunks WHERE content_id = ?`),
      deleteContent: db.prepare(`DELETE FROM contents WHERE id = ? AND refs = 0`),
      // The witness: client_contents counts the same entries per client, kept by other statements, and is
      // read by an index on content_id (an index on entries.content_id would cost every backup's inserts).
      witnessedReferences: db.prepare(
        `SELECT COALESCE(SUM(refs), 0) FROM client_contents INDEXED BY client_contents_content WHERE content_id = ? AND refs > 0`).pluck(),
      // Only where the counts disagree (damage): the entries themselves, read whole (they have no index on content_id).
      entryReferences: db.prepare(
        `SELECT b.client_id AS clientId, COUNT(*) AS n FROM entries e JOIN backups b ON b.id = e.backup_id
         WHERE e.content_id = ? AND b.state = 'committed' GROUP BY b.client_id`),
      entryUsingContent: db.prepare(
        `SELECT c.name AS clientName, b.number AS backupNumber, e.path FROM entries e JOIN backups b ON b.id = e.backup_id
           JOIN clients c ON c.id = b.client_id
         WHERE e.content_id = ? AND b.state = 'committed' ORDER BY c.name, b.number, e.path LIMIT 1`),
      setContentRefs: db.prepare(`UPDATE contents SET refs = ? WHERE id = ?`),
      setClientContent: db.prepare(
        `INSERT INTO client_contents (client_id, content_id, refs) VALUES (?, ?, ?)
         ON CONFLICT (client_id, content_id) DO UPDATE SET refs = excluded.refs`),
      dropClientContents: db.prepare(`DELETE FROM client_contents WHERE content_id = ?`),
      // By content_chunks_chunk: what the chunk's count stands for.
      chunkListings: db.prepare(`SELECT COUNT(*) FROM content_chunks WHERE chunk_id = ?`).pluck(),
      setChunkRefs: db.prepare(`UPDATE chunks SET refs = ? WHERE id = ?`),
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
      const repairedCounts: RepairedCount[] = [];
      let deletedContents = 0;
      for (const id of this.statements.unreferencedContents.all() as number[]) {
        if (held.hasContent(id)) continue;
        const repaired = this.repairedContentCount(id);
        if (repaired !== undefined) {
          repairedCounts.push(repaired);
          continue;
        }
        this.statements.releaseChunks.run(id);
        this.statements.deleteContentChunks.run(id);
        deletedContents += this.statements.deleteContent.run(id).changes;
      }
      let deletedChunks = 0;
      const touchedPacks = new Set<number>();
      for (const { id, packId } of this.statements.unreferencedChunks.all() as { id: number; packId: number }[]) {
        if (held.hasChunk(id)) continue;
        const listings = this.statements.chunkListings.get(id) as number;
        if (listings > 0) {
          this.statements.setChunkRefs.run(listings, id);
          repairedCounts.push({ kind: 'chunk', id, was: 0, now: listings });
          continue;
        }
        const hash = this.statements.deleteChunk.get(id) as Buffer | undefined;
        if (hash === undefined) continue;
        // No client may be told "the store has it" for a chunk that is gone.
        this.statements.forgetChunk.run(hash);
        deletedChunks++;
        touchedPacks.add(packId);
      }
      for (const packId of touchedPacks) this.statements.addPending.run(packId);
      this.deletedContentCount += deletedContents;
      return { deletedContents, deletedChunks, touchedPacks, repairedCounts };
    }, true);
  }

  /**
   * A content whose count is 0: undefined when nothing uses it (it may go), else its count repaired from
   * its committed entries (and its clients' counts with it). The witness is one index probe; the entries
   * (no index on content_id: it would cost every backup an insert per entry) are read only where it disagrees.
   */
  private repairedContentCount(id: number): RepairedCount | undefined {
    const witnessed = this.statements.witnessedReferences.get(id) as number;
    if (witnessed === 0) return undefined;
    const users = this.statements.entryReferences.all(id) as { clientId: number; n: number }[];
    this.statements.dropClientContents.run(id);
    for (const user of users) this.statements.setClientContent.run(user.clientId, id, user.n);
    const now = users.reduce((sum, user) => sum + user.n, 0);
    this.statements.setContentRefs.run(now, id);
    if (now === 0) return undefined; // only the clients' counts were wrong: the content is garbage, as its count said
    const example = this.statements.entryUsingContent.get(id) as { clientName: string; backupNumber: number; path: Buffer };
    return { kind: 'content', id, was: 0, now, example };
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
