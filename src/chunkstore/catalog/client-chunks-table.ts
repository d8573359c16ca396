// Per-client knowledge of chunks, keyed by hash: what a client is allowed to hear "the store has it"
// about. Rows are added when a client's session stores or references a chunk, removed with the chunk.
import type { Connection } from './database';

export class ClientChunksTable {
  private readonly statements;

  constructor(connection: Connection) {
    this.statements = {
      known: connection.prepare(
        `SELECT c.id AS chunkId, c.raw_size AS rawSize FROM client_chunks cc JOIN chunks c ON c.hash = cc.hash
         WHERE cc.client_id = ? AND cc.hash = ? AND c.is_damaged = 0`),
      add: connection.prepare(`INSERT OR IGNORE INTO client_chunks (client_id, hash) VALUES (?, ?)`),
      any: connection.prepare(`SELECT 1 FROM client_chunks WHERE client_id = ? LIMIT 1`).pluck(),
      holds: connection.prepare(`SELECT 1 FROM client_chunks WHERE client_id = ? AND hash = ?`).pluck(),
      forget: connection.prepare(`DELETE FROM client_chunks WHERE client_id = ? AND hash = ?`),
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

  /** Inside the caller's transaction. */
  forget(clientId: number, hashes: Iterable<Buffer>): void {
    for (const hash of hashes) this.statements.forget.run(clientId, hash);
  }

  /** Inside the caller's transaction. */
  add(clientId: number, hashes: Iterable<Buffer>): void {
    for (const hash of hashes) this.statements.add.run(clientId, hash);
  }
}
