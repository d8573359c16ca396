// Holds on chunks an unfinished backup stored, sent or used, so that a retry within the hold's time
// reuses them. Written with the pack's chunk rows (stored) and at each flush (sent or used), dropped
// when the backup commits (its entries reference them then), and expired by the sweep once the
// backup is no longer running.
import type { Connection } from './database';

/**
 * SQL, true while the hold row `alias` keeps its chunk at @now: until it expires, and whatever its time
 * while its backup runs. Every query that expires holds or asks what a client still holds uses this one rule.
 */
export function liveHold(alias: string): string {
  return `(${alias}.expires_at > @now OR EXISTS (SELECT 1 FROM backups r WHERE r.id = ${alias}.backup_id AND r.state = 'running'))`;
}

export class HoldsTable {
  private readonly statements;

  constructor(connection: Connection) {
    this.statements = {
      insert: connection.prepare(`INSERT OR IGNORE INTO chunk_holds (chunk_id, client_id, backup_id, expires_at) VALUES (?, ?, ?, ?)`),
      extend: connection.prepare(`UPDATE chunk_holds SET expires_at = MAX(expires_at, ?) WHERE backup_id = ?`),
      release: connection.prepare(`DELETE FROM chunk_holds WHERE chunk_id = ? AND backup_id = ?`),
      releaseBackup: connection.prepare(`DELETE FROM chunk_holds WHERE backup_id = ? RETURNING chunk_id`).pluck(),
      // A running backup's holds stay (its chunks are its own until it ends), as in liveHold.
      retryBackups: connection.prepare(
        `SELECT COUNT(DISTINCT backup_id) FROM chunk_holds h WHERE h.expires_at > @now
           AND NOT EXISTS (SELECT 1 FROM backups r WHERE r.id = h.backup_id AND r.state = 'running')`).pluck(),
      endRetryHolds: connection.prepare(
        `UPDATE chunk_holds SET expires_at = @now WHERE expires_at > @now
           AND NOT EXISTS (SELECT 1 FROM backups r WHERE r.id = chunk_holds.backup_id AND r.state = 'running')`),
      nextExpiry: connection.prepare(
        // As liveHold: a running backup's holds do not end; an abandoned backup's row may be gone already.
        `SELECT MIN(h.expires_at) FROM chunk_holds h WHERE NOT EXISTS (SELECT 1 FROM backups r WHERE r.id = h.backup_id AND r.state = 'running')`).pluck(),
    };
  }

  /** When the first hold of a backup no longer running ends (ms since the epoch; perhaps past), or undefined when none is left. */
  nextExpiry(): number | undefined {
    return (this.statements.nextExpiry.get() as number | null) ?? undefined;
  }

  /** Inside the caller's transaction (the one that records the chunks). */
  hold(chunkIds: readonly number[], clientId: number, backupId: number, expiresAt: number): void {
    for (const chunkId of chunkIds) this.statements.insert.run(chunkId, clientId, backupId, expiresAt);
  }

  /** Inside the caller's transaction: the backup's holds on these chunks go (the next sweep takes them unless something else keeps them). */
  release(chunkIds: readonly number[], backupId: number): void {
    for (const chunkId of chunkIds) this.statements.release.run(chunkId, backupId);
  }

  /**
   * Ends now the holds kept for the retry of backups no longer running (resume_hold): the next sweep
   * expires them as if their time had come. Returns how many backups and holds that was.
   */
  endRetryHolds(now: number): { backups: number; holds: number } {
    const backups = this.statements.retryBackups.get({ now }) as number;
    if (backups === 0) return { backups: 0, holds: 0 };
    return { backups, holds: this.statements.endRetryHolds.run({ now }).changes };
  }

  /** Inside the caller's transaction: every hold of the backup goes; returns their chunks. */
  releaseBackup(backupId: number): number[] {
    return this.statements.releaseBackup.all(backupId) as number[];
  }

  /** A backup failed: its holds last until expiresAt at least, so its retry's window starts now, whatever it ran for. */
  extendForRetry(backupId: number, expiresAt: number): void {
    this.statements.extend.run(expiresAt, backupId);
  }
}
