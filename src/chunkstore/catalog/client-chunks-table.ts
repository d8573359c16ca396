// Per-client knowledge of chunks, keyed by hash: what a client is allowed to hear "the store has it"
// about. Rows are added when a client's session stores or references a chunk, removed with the chunk,
// and removed when the last of the client's own backups or held retries referencing it goes.
//
// Deciding what "the last" is must not read all of a client's entries at each deletion (100 kept
// backups of 20,000 files are 2 million rows, 0.55 s on the server's only thread). So client_contents
// counts, per client, the committed entries naming each content, and every event that can take a
// chunk away from a client notes it as a candidate (temp.forget_candidates); forgetUnreferenced then
// looks at the candidates alone. The whole-client scan stays for recovery and for `check`.
import type { Connection } from './database';
import { liveHold } from './holds-table';
import type { ChunkLocation, NewChunkRow } from './records';
import type { ClientSessionHolds } from '../session/open-sessions';

/**
 * Chunk ids the client still references, read from all of its entries rather than from the counts:
 * the scan recovery and `check` use, which is what the counted path must agree with.
 */
const REFERENCED_BY_CLIENT = `
  SELECT cc.chunk_id FROM content_chunks cc WHERE cc.content_id IN (
    SELECT e.content_id FROM backups b JOIN entries e ON e.backup_id = b.id WHERE b.client_id = @client AND e.content_id IS NOT NULL)
  UNION SELECT h.chunk_id FROM chunk_holds h WHERE h.client_id = @client AND ${liveHold('h')}`;

/** How many of a client's rows nothing of it references (REFERENCED_BY_CLIENT, and what `alsoKept` selects by hash). */
function unreferencedCount(alsoKept: string): string {
  return `SELECT COUNT(*) FROM client_chunks WHERE client_id = @client AND hash NOT IN (
    SELECT ch.hash FROM chunks ch WHERE ch.id IN (${REFERENCED_BY_CLIENT}) ${alsoKept})`;
}

/**
 * Chunks a client stopped referencing. Raw sizes, not stored ones: a chunk's stored size is that of
 * whichever client stored it first (compressed or not), which would tell this client who that was.
 */
export interface ForgottenChunks {
  readonly chunks: number;
  readonly rawBytes: number;
}

/** A chunk a client has stored or referenced, as its own rows know it. */
export interface ClientChunk {
  readonly chunkId: number;
  readonly rawSize: number;
  /** What the client's own copy takes stored (see OwnCopy). */
  readonly storedSize: number;
}

/**
 * A chunk and what the client's own copy of it takes stored: the payload it sent, or what the store's
 * encoding of the bytes it sent takes. Never the chunk row's size when another client stored the
 * bytes first: that is the other client's encoding, which would tell this one who stored them how.
 */
export interface OwnCopy {
  readonly hash: Buffer;
  readonly storedSize: number;
}

/** A client's own copy of a chunk, where it lies (GC moves it with its pack's live records); chunkId: the chunk's row. */
export interface OwnCopyPlace extends ChunkLocation {
  readonly clientId: number;
}

export class ClientChunksTable {
  private readonly statements;
  /** What the running sessions of a client hold (set by the store that runs them; see deferHeldCandidates). */
  sessionHolds: ((clientId: number) => ClientSessionHolds | undefined) | undefined;

  constructor(connection: Connection) {
    // In the connection's own temp schema: never written to the catalog file, and empty after a
    // crash, which loses nothing: candidates are noted and forgotten in one transaction.
    connection.exec(`CREATE TEMP TABLE IF NOT EXISTS forget_candidates (
      client_id INTEGER NOT NULL, chunk_id INTEGER NOT NULL, PRIMARY KEY (client_id, chunk_id)) WITHOUT ROWID`);
    // Candidates a running session of their client holds, looked at again at the next forgetUnreferenced.
    connection.exec(`CREATE TEMP TABLE IF NOT EXISTS deferred_candidates (
      client_id INTEGER NOT NULL, chunk_id INTEGER NOT NULL, PRIMARY KEY (client_id, chunk_id)) WITHOUT ROWID`);
    this.statements = {
      known: connection.prepare(
        `SELECT c.id AS chunkId, c.raw_size AS rawSize, cc.stored_size AS storedSize FROM client_chunks cc JOIN chunks c ON c.hash = cc.hash
         WHERE cc.client_id = ? AND cc.hash = ? AND c.is_damaged = 0`),
      // A row the client has keeps its size: the copy it was first charged for.
      add: connection.prepare(`INSERT OR IGNORE INTO client_chunks (client_id, hash, stored_size) VALUES (?, ?, ?)`),
      // A record of a pack just stored whose chunk row lies elsewhere (another client stored the bytes first,
      // or another session did meanwhile) and holds another payload: the client's own copy, unless it has one.
      placeOwnCopy: connection.prepare(
        `INSERT INTO client_chunks (client_id, hash, stored_size, pack_id, offset)
           SELECT @client, @hash, @storedSize, @pack, @offset FROM chunks ch
           WHERE ch.hash = @hash AND NOT (ch.pack_id = @pack AND ch.offset = @offset) AND (ch.payload_hash IS NULL OR ch.payload_hash <> @payloadHash)
         ON CONFLICT (client_id, hash) DO UPDATE SET pack_id = excluded.pack_id, offset = excluded.offset, stored_size = excluded.stored_size
           WHERE client_chunks.pack_id IS NULL`),
      ownCopiesOf: connection.prepare(
        `SELECT cc.client_id AS clientId, ch.id AS chunkId, cc.hash, cc.pack_id AS packId, p.name AS packName, cc.offset, cc.stored_size AS storedSize, ch.raw_size AS rawSize
         FROM client_chunks cc INDEXED BY client_chunks_pack JOIN packs p ON p.id = cc.pack_id JOIN chunks ch ON ch.hash = cc.hash
         WHERE cc.pack_id = ? ORDER BY cc.offset`),
      ownCopiesOfChunk: connection.prepare(
        `SELECT cc.client_id AS clientId, ch.id AS chunkId, cc.hash, cc.pack_id AS packId, p.name AS packName, cc.offset, cc.stored_size AS storedSize, ch.raw_size AS rawSize
         FROM client_chunks cc JOIN packs p ON p.id = cc.pack_id JOIN chunks ch ON ch.hash = cc.hash
         WHERE cc.hash = ? AND cc.pack_id IS NOT NULL ORDER BY cc.client_id`),
      moveOwnCopy: connection.prepare(`UPDATE client_chunks SET pack_id = ?, offset = ? WHERE client_id = ? AND hash = ? AND pack_id = ? AND offset = ?`),
      dropOwnCopy: connection.prepare(
        `UPDATE client_chunks SET pack_id = NULL, offset = NULL WHERE client_id = ? AND hash = ? AND pack_id = ? AND offset = ?`),
      clientsWithRows: connection.prepare(`SELECT DISTINCT client_id FROM client_chunks`).pluck(),
      any: connection.prepare(`SELECT 1 FROM client_chunks WHERE client_id = ? LIMIT 1`).pluck(),
      heldSize: connection.prepare(`SELECT stored_size FROM client_chunks WHERE client_id = ? AND hash = ?`).pluck(),
      // One statement per backup, as contents.refs is counted (BackupsTable.addReferences).
      countBackup: connection.prepare(
        `INSERT INTO client_contents (client_id, content_id, refs)
           SELECT @client, content_id, COUNT(*) FROM entries WHERE backup_id = @backup AND content_id IS NOT NULL GROUP BY content_id
         ON CONFLICT (client_id, content_id) DO UPDATE SET refs = refs + excluded.refs`),
      // An upsert, not UPDATE … FROM: that reads all of the client's rows; this probes the key once per content of the backup.
      uncountBackup: connection.prepare(
        `INSERT INTO client_contents (client_id, content_id, refs)
           SELECT @client, content_id, -COUNT(*) FROM entries WHERE backup_id = @backup AND content_id IS NOT NULL GROUP BY content_id
         ON CONFLICT (client_id, content_id) DO UPDATE SET refs = refs + excluded.refs`),
      noteUncounted: connection.prepare(
        `INSERT OR IGNORE INTO temp.forget_candidates (client_id, chunk_id)
           SELECT @client, cc.chunk_id FROM client_contents k INDEXED BY client_contents_released JOIN content_chunks cc ON cc.content_id = k.content_id
           WHERE k.client_id = @client AND k.refs <= 0`),
      // By the partial index: the planner would rather read all of the client's rows by their key.
      dropUncounted: connection.prepare(`DELETE FROM client_contents INDEXED BY client_contents_released WHERE client_id = @client AND refs <= 0`),
      noteBackupChunks: connection.prepare(
        `INSERT OR IGNORE INTO temp.forget_candidates (client_id, chunk_id)
           SELECT @client, cc.chunk_id FROM entries e JOIN content_chunks cc ON cc.content_id = e.content_id WHERE e.backup_id = @backup`),
      noteHeldChunks: connection.prepare(
        `INSERT OR IGNORE INTO temp.forget_candidates (client_id, chunk_id) SELECT client_id, chunk_id FROM chunk_holds WHERE backup_id = ?`),
      noteChunk: connection.prepare(`INSERT OR IGNORE INTO temp.forget_candidates (client_id, chunk_id) VALUES (?, ?)`),
      noteExpiringHolds: connection.prepare(
        `INSERT OR IGNORE INTO temp.forget_candidates (client_id, chunk_id) SELECT client_id, chunk_id FROM chunk_holds WHERE NOT ${liveHold('chunk_holds')}`),
      uncountEntry: connection.prepare(`UPDATE client_contents SET refs = refs - 1 WHERE client_id = ? AND content_id = ? RETURNING refs`).pluck(),
      noteContentChunks: connection.prepare(
        `INSERT OR IGNORE INTO temp.forget_candidates (client_id, chunk_id) SELECT ?, chunk_id FROM content_chunks WHERE content_id = ?`),
      dropContent: connection.prepare(`DELETE FROM client_contents WHERE client_id = ? AND content_id = ? AND refs <= 0`),
      hasCandidates: connection.prepare(`SELECT 1 FROM temp.forget_candidates WHERE client_id = ? LIMIT 1`).pluck(),
      runningBackups: connection.prepare(`SELECT id FROM backups WHERE client_id = ? AND state = 'running'`).pluck(),
      // Not per candidate: entries have no index on content_id, so a running backup's are read once.
      keepRunningBackupChunks: connection.prepare(
        `DELETE FROM temp.forget_candidates WHERE client_id = @client AND chunk_id IN (
           SELECT cc.chunk_id FROM entries e JOIN content_chunks cc ON cc.content_id = e.content_id WHERE e.backup_id = @backup)`),
      forgetCandidates: connection.prepare(
        `DELETE FROM client_chunks WHERE client_id = @client AND hash IN (
           SELECT ch.hash FROM temp.forget_candidates f JOIN chunks ch ON ch.id = f.chunk_id
           WHERE f.client_id = @client
             AND NOT EXISTS (SELECT 1 FROM content_chunks cc JOIN client_contents k ON k.client_id = @client AND k.content_id = cc.content_id
                             WHERE cc.chunk_id = f.chunk_id)
             AND NOT EXISTS (SELECT 1 FROM chunk_holds h WHERE h.chunk_id = f.chunk_id AND h.client_id = @client AND ${liveHold('h')}))
         RETURNING (SELECT raw_size FROM chunks WHERE chunks.hash = client_chunks.hash)`).pluck(),
      clearCandidates: connection.prepare(`DELETE FROM temp.forget_candidates WHERE client_id = ?`),
      candidates: connection.prepare(`SELECT chunk_id FROM temp.forget_candidates WHERE client_id = ?`).pluck(),
      chunksOfContent: connection.prepare(`SELECT chunk_id FROM content_chunks WHERE content_id = ?`).pluck(),
      defer: connection.prepare(`INSERT OR IGNORE INTO temp.deferred_candidates (client_id, chunk_id) VALUES (?, ?)`),
      dropCandidate: connection.prepare(`DELETE FROM temp.forget_candidates WHERE client_id = ? AND chunk_id = ?`),
      renoteDeferred: connection.prepare(
        `INSERT OR IGNORE INTO temp.forget_candidates (client_id, chunk_id) SELECT client_id, chunk_id FROM temp.deferred_candidates WHERE client_id = ?`),
      clearDeferred: connection.prepare(`DELETE FROM temp.deferred_candidates WHERE client_id = ?`),
      forgetAllUnreferenced: connection.prepare(
        `DELETE FROM client_chunks WHERE client_id = @client AND hash NOT IN (
           SELECT ch.hash FROM chunks ch WHERE ch.id IN (${REFERENCED_BY_CLIENT}))`),
      unreferencedAll: connection.prepare(unreferencedCount('')).pluck(),
      // A row a running backup of the client holds (its forgetting deferred) is not stale: that backup references it.
      unreferenced: connection.prepare(unreferencedCount(
        'UNION SELECT ch.hash FROM temp.deferred_candidates d JOIN chunks ch ON ch.id = d.chunk_id WHERE d.client_id = @client')).pluck(),
    };
  }

  /**
   * The chunk, if this client has stored or referenced it (its own rows are looked at first, and only
   * then the chunk's); storedSize is the client's own copy's, not the stored row's.
   */
  known(clientId: number, hash: Buffer): ClientChunk | undefined {
    return this.statements.known.get(clientId, hash) as ClientChunk | undefined;
  }

  /** What this client's own copy of the chunk takes, if it has stored or referenced it; undefined if not. */
  heldSize(clientId: number, hash: Buffer): number | undefined {
    return this.statements.heldSize.get(clientId, hash) as number | undefined;
  }

  /** Whether this client holds any chunk at all (a new client's first backup need not look each one up). */
  hasAny(clientId: number): boolean {
    return this.statements.any.get(clientId) !== undefined;
  }

  /** Inside the caller's transaction; a chunk the client has already keeps the size it had. */
  add(clientId: number, chunks: Iterable<OwnCopy>): void {
    for (const chunk of chunks) this.statements.add.run(clientId, chunk.hash, chunk.storedSize);
  }

  /**
   * Inside the transaction that records a pack a client's session stored, for its records whose chunk row
   * lies elsewhere (ChunksTable.insertRows): each with another payload becomes the client's own copy (see
   * the client_chunks table).
   */
  placeOwnCopies(clientId: number, packId: number, records: readonly NewChunkRow[]): void {
    for (const record of records) {
      if (record.payloadHash === undefined) continue;
      this.statements.placeOwnCopy.run({ client: clientId, hash: record.hash, storedSize: record.storedSize, pack: packId, offset: record.offset, payloadHash: record.payloadHash });
    }
  }

  /** The own copies lying in a pack, in file order (compaction carries them on). */
  ownCopiesOf(packId: number): OwnCopyPlace[] {
    return this.statements.ownCopiesOf.all(packId) as OwnCopyPlace[];
  }

  /** Every client's own copy of one chunk, wherever it lies: a second copy of its bytes (check heals from it). */
  ownCopiesOfChunk(hash: Buffer): OwnCopyPlace[] {
    return this.statements.ownCopiesOfChunk.all(hash) as OwnCopyPlace[];
  }

  /** Compaction stored an own copy's record in another pack: the row follows, if it still points where it was read. */
  moveOwnCopy(place: OwnCopyPlace, toPackId: number, offset: number): void {
    this.statements.moveOwnCopy.run(toPackId, offset, place.clientId, place.hash, place.packId, place.offset);
  }

  /**
   * An own copy that does not read back: the client's restores read the shared copy from now on (the same
   * bytes, another client's encoding). Its quota stays charged its own copy's size: the shared copy's would
   * tell it how another client's encoding came out.
   */
  dropOwnCopy(place: OwnCopyPlace): number {
    return this.statements.dropOwnCopy.run(place.clientId, place.hash, place.packId, place.offset).changes;
  }

  /** A backup commits: its entries count as the client's; its holds, about to go, make their chunks candidates. Inside the commit's transaction. */
  countCommitted(clientId: number, backupId: number): void {
    this.statements.countBackup.run({ client: clientId, backup: backupId });
    this.statements.noteHeldChunks.run(backupId);
  }

  /**
   * A backup is about to lose its entries (inside the deletion's transaction): a committed one's
   * counts go down and the chunks of contents the client no longer names become candidates; a
   * running one was never counted, so every chunk its entries name is one.
   */
  releaseBackup(clientId: number, backupId: number, wasCommitted: boolean): void {
    const parameters = { client: clientId, backup: backupId };
    if (!wasCommitted) {
      this.statements.noteBackupChunks.run(parameters);
      return;
    }
    this.statements.uncountBackup.run(parameters);
    this.statements.noteUncounted.run({ client: clientId });
    this.statements.dropUncounted.run({ client: clientId });
  }

  /** One entry of a backup is about to go (check --repair); inside the caller's transaction. */
  releaseEntry(clientId: number, contentId: number, wasCommitted: boolean): void {
    if (wasCommitted) {
      const refs = this.statements.uncountEntry.get(clientId, contentId) as number | undefined;
      if (refs === undefined || refs > 0) return;
      this.statements.dropContent.run(clientId, contentId);
    }
    this.statements.noteContentChunks.run(clientId, contentId);
  }

  /** Chunks whose holds for the client were let go (HoldsTable.release); inside that transaction, which then forgets. */
  noteReleased(clientId: number, chunkIds: readonly number[]): void {
    for (const chunkId of chunkIds) this.statements.noteChunk.run(clientId, chunkId);
  }

  /** Holds the sweep is about to expire (a running backup's never do); the sweep then forgets, in its transaction. */
  noteExpiringHolds(now: number): void {
    this.statements.noteExpiringHolds.run({ now });
  }

  /**
   * Forgets, among the client's candidates, what none of its backups or held chunks references any
   * more; inside the transaction that made them candidates (a deletion, a commit, a sweep, a
   * repair). Kept, a row would answer "the store has it" for bytes the client gave up,
   * which tells it that another client still holds them. Returns what was forgotten: a figure of
   * the client's own data alone, whoever else stores the same bytes.
   */
  forgetUnreferenced(clientId: number, now = Date.now()): ForgottenChunks {
    this.statements.renoteDeferred.run(clientId);
    this.statements.clearDeferred.run(clientId);
    if (this.statements.hasCandidates.get(clientId) === undefined) return { chunks: 0, rawBytes: 0 };
    for (const backupId of this.statements.runningBackups.all(clientId) as number[]) {
      this.statements.keepRunningBackupChunks.run({ client: clientId, backup: backupId });
    }
    this.deferHeldCandidates(clientId);
    const rawSizes = this.statements.forgetCandidates.all({ client: clientId, now }) as number[];
    this.statements.clearCandidates.run(clientId);
    return { chunks: rawSizes.length, rawBytes: rawSizes.reduce((sum, size) => sum + size, 0) };
  }

  /**
   * What a running session of the client holds stays the client's until the session ends: a chunk it
   * was told the client holds (an own copy with it, the payload the client sent), or of a content it
   * reuses from its parent, has no entry or hold in the catalog before its flush, and forgotten now the
   * flush would record the shared copy as the client's (its restores then read another client's
   * encoding). Deferred, not kept for good: the next forgetUnreferenced of the client (at the latest,
   * the session's commit or abandon) looks at them again.
   */
  private deferHeldCandidates(clientId: number): void {
    const held = this.sessionHolds?.(clientId);
    if (held === undefined) return;
    // From the session's own contents, not from each candidate's: every content holding a chunk, of every
    // client, would make the time a deletion takes depend on what other clients store.
    const inHeldContents = new Set<number>();
    for (const contentId of held.contentIds()) for (const chunkId of this.statements.chunksOfContent.all(contentId) as number[]) inHeldContents.add(chunkId);
    for (const chunkId of this.statements.candidates.all(clientId) as number[]) {
      if (!held.hasChunk(chunkId) && !inHeldContents.has(chunkId)) continue;
      this.statements.defer.run(clientId, chunkId);
      this.statements.dropCandidate.run(clientId, chunkId);
    }
  }

  /** forgetUnreferenced over all of the client's rows, not candidates (recovery: a crash lost the candidates). */
  forgetAllUnreferenced(clientId: number, now = Date.now()): number {
    this.statements.clearCandidates.run(clientId);
    return this.statements.forgetAllUnreferenced.run({ client: clientId, now }).changes;
  }

  /** forgetAllUnreferenced for every client (once, for a catalog written before deletions forgot); inside the caller's transaction. */
  forgetUnreferencedOfAll(): number {
    let forgotten = 0;
    for (const clientId of this.statements.clientsWithRows.all() as number[]) forgotten += this.forgetAllUnreferenced(clientId);
    return forgotten;
  }

  /**
   * Rows that no backup or hold of their client references, per client that has any (`check`: there
   * should be none). A hold counts until the sweep expires it, whatever its time: rows it alone kept
   * are forgotten then, not before.
   */
  unreferencedByClient(): Map<number, number> {
    const counts = new Map<number, number>();
    for (const clientId of this.statements.clientsWithRows.all() as number[]) {
      // Deferred rows are not stale only while a session of the client holds them.
      const statement = this.sessionHolds?.(clientId) === undefined ? this.statements.unreferencedAll : this.statements.unreferenced;
      const count = statement.get({ client: clientId, now: 0 }) as number;
      if (count > 0) counts.set(clientId, count);
    }
    return counts;
  }
}
