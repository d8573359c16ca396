// Per-client knowledge of chunks, keyed by hash: what a client is allowed to hear "the store has it"
// about. Rows are added when a client's session stores or references a chunk, removed with the chunk,
// and removed when the last of the client's own backups or held retries referencing it goes.
import type { Connection } from './database';

export class ClientChunksTable {
  private readonly statements;

  constructor(connection: Connection) {
    this.statements = {
      known: connection.prepare(
        `SELECT c.id AS chunkId, c.raw_size AS rawSize FROM client_chunks cc JOIN chunks c ON c.hash = cc.hash
         WHERE cc.client_id = ? AND cc.hash = ? AND c.is_damaged = 0`),
      add: connection.prepare(`INSERT OR IGNORE INTO client_chunks (client_id, hash) VALUES (?, ?)`),
      clientsWithRows: connection.prepare(`SELECT DISTINCT client_id FROM client_chunks`).pluck(),
      any: connection.prepare(`SELECT 1 FROM client_chunks WHERE client_id = ? LIMIT 1`).pluck(),
      holds: connection.prepare(`SELECT 1 FROM client_chunks WHERE client_id = ? AND hash = ?`).pluck(),
      // Every backup of the client counts, running ones too (their flushed entries), and so do its held
      // chunks: a failed backup's while its hold for the retry lasts, a running one's (its sealed packs) always.
      forgetUnreferenced: connection.prepare(
        `DELETE FROM client_chunks WHERE client_id = @client AND hash NOT IN (
           SELECT ch.hash FROM chunks ch WHERE ch.id IN (
             SELECT cc.chunk_id FROM content_chunks cc WHERE cc.content_id IN (
               SELECT e.content_id FROM backups b JOIN entries e ON e.backup_id = b.id WHERE b.client_id = @client AND e.content_id IS NOT NULL)
             UNION SELECT h.chunk_id FROM chunk_holds h WHERE h.client_id = @client
               AND (h.expires_at > @now OR EXISTS (SELECT 1 FROM backups r WHERE r.id = h.backup_id AND r.state = 'running'))))`),
    };
  }

  /** The chunk, if this client has stored or referenced it (its own rows are looked at first, and only then the chunk's). */
  known(clientId: number, hash: Buffer): { readonly chunkId: number; readonly rawSize: number } | undefined {
    return this.statements.known.get(clientId, hash) as { chunkId: number; rawSize: number } | undefined;
  }

  /** Whether this client has stored or referenced this chunk (the row may be another client's copy). */
  holds(clientId: number, hash: Buffer): boolean {
    return this.statements.holds.get(clientId, hash) !== undefined;
  }

  /** Whether this client holds any chunk at all (a new client's first backup need not look each one up). */
  hasAny(clientId: number): boolean {
    return this.statements.any.get(clientId) !== undefined;
  }

  /**
   * Forgets what none of the client's backups or held chunks references any more; inside the
   * transaction that deleted a backup (committed, abandoned or left by a crash), or right after its
   * holds expired. Kept, a row would answer "the store has it" for bytes the client gave up, which
   * tells it that another client still holds them; returns the rows forgotten.
   */
  forgetUnreferenced(clientId: number, now = Date.now()): number {
    return this.statements.forgetUnreferenced.run({ client: clientId, now }).changes;
  }

  /** forgetUnreferenced for every client (once, for a catalog written before deletions forgot); inside the caller's transaction. */
  forgetUnreferencedOfAll(): number {
    let forgotten = 0;
    for (const clientId of this.statements.clientsWithRows.all() as number[]) forgotten += this.forgetUnreferenced(clientId);
    return forgotten;
  }

  /** Inside the caller's transaction. */
  add(clientId: number, hashes: Iterable<Buffer>): void {
    for (const hash of hashes) this.statements.add.run(clientId, hash);
  }
}
