// What one client's data takes in the store, for quotas: every chunk the client has stored or
// referenced (client_chunks), its whole stored size when no other client has it, else an equal share.
import type { CatalogDatabase } from './database';

export interface ClientUsage {
  /** ownBytes + sharedBytes, rounded: what quotas compare. */
  readonly bytes: number;
  /** Stored (compressed) sizes of the chunks only this client has. */
  readonly ownBytes: number;
  /** Its share of chunks other clients have too: stored size / number of clients having it. */
  readonly sharedBytes: number;
  readonly chunks: number;
}

export class UsageQueries {
  private readonly statements;

  constructor(database: CatalogDatabase) {
    const db = database.connection;
    this.statements = {
      // One pass over this client's rows (primary key), one index probe each for the chunk and its
      // holders: the cost follows the client's distinct chunks, not its backups or files.
      usage: db.prepare(
        `SELECT COUNT(*) AS chunks,
                COALESCE(SUM(CASE WHEN holders = 1 THEN stored_size ELSE 0 END), 0) AS ownBytes,
                COALESCE(SUM(CASE WHEN holders > 1 THEN stored_size * 1.0 / holders ELSE 0 END), 0) AS sharedBytes
         FROM (SELECT ch.stored_size, (SELECT COUNT(*) FROM client_chunks other WHERE other.hash = mine.hash) AS holders
               FROM client_chunks mine JOIN chunks ch ON ch.hash = mine.hash WHERE mine.client_id = ?)`),
    };
  }

  clientUsage(clientId: number): ClientUsage {
    const row = this.statements.usage.get(clientId) as { chunks: number; ownBytes: number; sharedBytes: number };
    const sharedBytes = Math.round(row.sharedBytes);
    return { bytes: row.ownBytes + sharedBytes, ownBytes: row.ownBytes, sharedBytes, chunks: row.chunks };
  }
}
