// Holds on chunks an unfinished backup stored, so that a retry within the hold's time reuses them.
// Written with the pack's chunk rows, dropped when the backup commits (its entries reference them
// then), and expired by the sweep.
import type { Connection } from './database';

export class HoldsTable {
  private readonly statements;

  constructor(connection: Connection) {
    this.statements = {
      insert: connection.prepare(`INSERT OR IGNORE INTO chunk_holds (chunk_id, client_id, backup_id, expires_at) VALUES (?, ?, ?, ?)`),
    };
  }

  /** Inside the caller's transaction (the one that records the chunks). */
  hold(chunkIds: readonly number[], clientId: number, backupId: number, expiresAt: number): void {
    for (const chunkId of chunkIds) this.statements.insert.run(chunkId, clientId, backupId, expiresAt);
  }
}
