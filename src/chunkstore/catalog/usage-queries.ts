// What one client's data takes in the store, for quotas: its own copy of every chunk it has stored
// or referenced (client_chunks.stored_size), whoever else holds the same bytes, and what its committed
// backups' entries take in the catalog (backups.metadata_bytes: names, link targets, xattrs).
import type { CatalogDatabase } from './database';

export interface ClientUsage {
  /** What quotas compare: the stored size of the client's own copy of each of its chunks, and metadataBytes. */
  readonly bytes: number;
  readonly chunks: number;
  /** Of bytes: its committed backups' entry metadata. */
  readonly metadataBytes: number;
}

/**
 * The operator's view of a usage (the quota notification): how much of it lies in chunks other
 * clients hold too. Each of them is charged its own copy, so the usages of all clients can add up to
 * more than the store holds. Never told to a client, nor compared with a quota: it depends on others.
 */
export interface UsageSharing {
  /** Of ClientUsage.bytes: in chunks only this client holds, and its metadata. */
  readonly ownBytes: number;
  /** Of ClientUsage.bytes: in chunks other clients hold too. */
  readonly sharedBytes: number;
}

export class UsageQueries {
  private readonly statements;

  constructor(database: CatalogDatabase) {
    const db = database.connection;
    this.statements = {
      // The client's own rows by their primary key, nothing else: the cost follows the client's distinct
      // chunks (not its backups or files), and neither the figure nor its time depends on other clients.
      usage: db.prepare(`SELECT COUNT(*) AS chunks, COALESCE(SUM(stored_size), 0) AS bytes FROM client_chunks WHERE client_id = ?`),
      metadata: db.prepare(`SELECT COALESCE(SUM(metadata_bytes), 0) FROM backups WHERE client_id = ? AND state = 'committed'`).pluck(),
      // One index probe per chunk of the client for another holder.
      shared: db.prepare(
        `SELECT COALESCE(SUM(mine.stored_size), 0) FROM client_chunks mine
         WHERE mine.client_id = @client AND EXISTS (SELECT 1 FROM client_chunks other WHERE other.hash = mine.hash AND other.client_id <> @client)`).pluck(),
    };
  }

  clientUsage(clientId: number): ClientUsage {
    const { chunks, bytes } = this.statements.usage.get(clientId) as { chunks: number; bytes: number };
    const metadataBytes = this.statements.metadata.get(clientId) as number;
    return { bytes: bytes + metadataBytes, chunks, metadataBytes };
  }

  /** Splits a usage by whether other clients hold the same chunks: for the operator only (see UsageSharing). */
  sharing(clientId: number, usage: ClientUsage): UsageSharing {
    const sharedBytes = this.statements.shared.get({ client: clientId }) as number;
    return { ownBytes: usage.bytes - sharedBytes, sharedBytes };
  }
}
