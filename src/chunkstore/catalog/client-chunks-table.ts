// Per-client knowledge of chunks, keyed by hash: what a client is allowed to hear "the store has it"
// about. Rows are added when a client's session stores or references a chunk, removed with the chunk.
import type { Connection } from './database';

export class ClientChunksTable {
  private readonly statements;

  constructor(connection: Connection) {
    this.statements = {
      has: connection.prepare(`SELECT 1 FROM client_chunks WHERE client_id = ? AND hash = ?`).pluck(),
      add: connection.prepare(`INSERT OR IGNORE INTO client_chunks (client_id, hash) VALUES (?, ?)`),
    };
  }

  /** Whether the client has stored or referenced the chunk (answered from its own rows only). */
  has(clientId: number, hash: Buffer): boolean {
    return this.statements.has.get(clientId, hash) !== undefined;
  }

  /** Inside the caller's transaction. */
  add(clientId: number, hashes: Iterable<Buffer>): void {
    for (const hash of hashes) this.statements.add.run(clientId, hash);
  }
}
