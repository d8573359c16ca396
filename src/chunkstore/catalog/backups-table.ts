// Backups and their life: created running, committed once (counting their references), deleted
// (releasing them). Numbers are per client and never reused, so an id always means one backup.
import type { CatalogDatabase } from './database';
import type { BackupPoint, BackupRecord, BackupStats } from './records';
import type { MetaTable } from './meta-table';
import type { ClientChunksTable } from './client-chunks-table';
import { CorruptError } from '../../common/errors';
import { ENTRY_METADATA_BYTES_SQL } from './schema';

interface BackupRow {
  id: number; client_id: number; client_name: string; number: number; state: 'running' | 'committed';
  kind: number; hostname: string; started_at: number; finished_at: number | null; files: number;
  logical_bytes: number; new_bytes: number; stored_bytes: number; labels: string;
  unreadable_files: number; is_protected: number; complete_ordinal: number | null;
}

function toBackup(row: BackupRow): BackupRecord {
  return { ...toPoint(row), labels: labelsOf(row.labels) };
}

/**
 * A backup's labels; ones that do not parse as an object of strings (damage to that one row) read as a
 * warning saying so, so that they cost that backup its labels, never its client's listing, restores and backups.
 */
export function labelsOf(text: string): Record<string, string> {
  const damage = labelsDamage(text);
  return damage === undefined ? JSON.parse(text) as Record<string, string> : { warnings: `catalog damage: ${damage}; its dumps and warnings are unknown` };
}

/** What is wrong with a labels column, or undefined when it is an object of strings. */
export function labelsDamage(text: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return `this backup's labels do not parse (${(error as Error).message})`;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || Object.values(parsed).some((value) => typeof value !== 'string')) {
    return 'this backup\'s labels are not a list of names and texts';
  }
  return undefined;
}

function toPoint(row: Omit<BackupRow, 'labels'>): BackupPoint {
  return {
    id: row.id, clientId: row.client_id, clientName: row.client_name, number: row.number, state: row.state,
    kind: row.kind, hostname: row.hostname, startedAt: row.started_at, finishedAt: row.finished_at,
    files: row.files, logicalBytes: row.logical_bytes, newBytes: row.new_bytes, storedBytes: row.stored_bytes,
    unreadableFiles: row.unreadable_files, isProtected: row.is_protected !== 0, completeOrdinal: row.complete_ordinal,
  };
}

/** BackupKind.BACKUP_KIND_COMPLETE on the wire; the catalog stores the kind as given. */
const COMPLETE_KIND = 0;

/** The meta key of the last backup id ever given. */
const LAST_ID_KEY = 'last_backup_id';

const BACKUP_SELECT = `SELECT b.*, c.name AS client_name FROM backups b JOIN clients c ON c.id = b.client_id`;

export class BackupsTable {
  private readonly statements;

  constructor(private readonly database: CatalogDatabase, private readonly meta: MetaTable, private readonly clientChunks: ClientChunksTable) {
    const db = database.connection;
    this.statements = {
      nextNumber: db.prepare(`SELECT COALESCE(MAX(number), 0) + 1 FROM backups WHERE client_id = ?`).pluck(),
      insert: db.prepare(`INSERT INTO backups (id, client_id, number, state, kind, hostname, started_at, labels) VALUES (?, ?, ?, 'running', ?, ?, ?, ?)`),
      lastIdInUse: db.prepare(`SELECT MAX(COALESCE((SELECT MAX(id) FROM backups), 0), COALESCE((SELECT MAX(backup_id) FROM chunk_holds), 0))`).pluck(),
      byId: db.prepare(`${BACKUP_SELECT} WHERE b.id = ?`),
      byNumber: db.prepare(`${BACKUP_SELECT} WHERE b.client_id = ? AND b.number = ?`),
      committed: db.prepare(`${BACKUP_SELECT} WHERE b.client_id = ? AND b.state = 'committed' ORDER BY b.number`),
      allCommitted: db.prepare(`${BACKUP_SELECT} WHERE b.state = 'committed' ORDER BY c.name, b.number`),
      // Every column but labels: the status port reads all backups per request, and needs no labels but the newest's.
      allCommittedPoints: db.prepare(`SELECT b.id, b.client_id, c.name AS client_name, b.number, b.state, b.kind, b.hostname, b.started_at,
        b.finished_at, b.files, b.logical_bytes, b.new_bytes, b.stored_bytes, b.unreadable_files, b.is_protected, b.complete_ordinal
        FROM backups b JOIN clients c ON c.id = b.client_id WHERE b.state = 'committed' ORDER BY c.name, b.number`),
      running: db.prepare(`${BACKUP_SELECT} WHERE b.state = 'running'`),
      latestCommitted: db.prepare(`${BACKUP_SELECT} WHERE b.client_id = ? AND b.state = 'committed' ORDER BY b.number DESC LIMIT 1`),
      latestCommittedComplete: db.prepare(`${BACKUP_SELECT} WHERE b.client_id = ? AND b.state = 'committed' AND b.kind = ? ORDER BY b.number DESC LIMIT 1`),
      commit: db.prepare(
        `UPDATE backups SET state = 'committed', finished_at = ?, files = ?, logical_bytes = ?, new_bytes = ?, stored_bytes = ?,
           unreadable_files = ?, labels = ?,
           metadata_bytes = (SELECT COALESCE(SUM(${ENTRY_METADATA_BYTES_SQL}), 0) FROM entries WHERE entries.backup_id = backups.id)
         WHERE id = ? AND state = 'running'`),
      // One statement per backup, not one per entry: a no-change backup of 40,000 files commits in one pass.
      addReferences: db.prepare(
        `UPDATE contents SET refs = refs + counted.n
         FROM (SELECT content_id, COUNT(*) AS n FROM entries WHERE backup_id = ? AND content_id IS NOT NULL GROUP BY content_id) AS counted
         WHERE contents.id = counted.content_id`),
      dropReferences: db.prepare(
        `UPDATE contents SET refs = refs - counted.n
         FROM (SELECT content_id, COUNT(*) AS n FROM entries WHERE backup_id = ? AND content_id IS NOT NULL GROUP BY content_id) AS counted
         WHERE contents.id = counted.content_id`),
      releaseHolds: db.prepare(`DELETE FROM chunk_holds WHERE backup_id = ?`),
      deleteEntries: db.prepare(`DELETE FROM entries WHERE backup_id = ?`),
      deleteSomeEntries: db.prepare(
        `DELETE FROM entries WHERE backup_id = ? AND path IN (SELECT path FROM entries WHERE backup_id = ? LIMIT ?)`),
      deleteRunningRow: db.prepare(`DELETE FROM backups WHERE id = ? AND state = 'running'`),
      deleteRow: db.prepare(`DELETE FROM backups WHERE id = ?`),
      stateOf: db.prepare(`SELECT state FROM backups WHERE id = ?`).pluck(),
      kindOf: db.prepare(`SELECT client_id AS clientId, kind FROM backups WHERE id = ?`),
      lastOrdinal: db.prepare(`SELECT COALESCE(MAX(complete_ordinal), 0) FROM backups WHERE client_id = ?`).pluck(),
      setOrdinal: db.prepare(`UPDATE backups SET complete_ordinal = ? WHERE id = ?`),
      setProtected: db.prepare(`UPDATE backups SET is_protected = ? WHERE id = ?`),
      committedCount: db.prepare(`SELECT COUNT(*) AS backups, COALESCE(SUM(logical_bytes), 0) AS logicalBytes FROM backups WHERE state = 'committed'`),
    };
  }

  create(clientId: number, kind: number, hostname: string, labels: Readonly<Record<string, string>>, startedAt: number): BackupRecord {
    return this.database.transaction(() => {
      // The last number ever used is remembered apart from the rows, so deleting the newest backups never frees their numbers.
      const metaKey = `last_number.${clientId}`;
      const lastUsed = Number(this.meta.get(metaKey) ?? 0);
      const number = Math.max(lastUsed + 1, this.statements.nextNumber.get(clientId) as number);
      this.meta.set(metaKey, String(number));
      // Ids are never reused either: a failed backup's held chunks name its id after its row is gone,
      // and a later backup with the same id (SQLite would give the deleted newest one's) released them at its commit.
      const id = Math.max(Number(this.meta.get(LAST_ID_KEY) ?? 0), this.statements.lastIdInUse.get() as number) + 1;
      this.meta.set(LAST_ID_KEY, String(id));
      this.statements.insert.run(id, clientId, number, kind, hostname, startedAt, JSON.stringify(labels));
      return toBackup(this.statements.byId.get(id) as BackupRow);
    });
  }

  byId(id: number): BackupRecord | undefined {
    const row = this.statements.byId.get(id) as BackupRow | undefined;
    return row && toBackup(row);
  }

  byNumber(clientId: number, number: number): BackupRecord | undefined {
    const row = this.statements.byNumber.get(clientId, number) as BackupRow | undefined;
    return row && toBackup(row);
  }

  /** Oldest first. */
  committed(clientId: number): BackupRecord[] {
    return (this.statements.committed.all(clientId) as BackupRow[]).map(toBackup);
  }

  allCommitted(): BackupRecord[] {
    return (this.statements.allCommitted.all() as BackupRow[]).map(toBackup);
  }

  allCommittedPoints(): BackupPoint[] {
    return (this.statements.allCommittedPoints.all() as Omit<BackupRow, 'labels'>[]).map(toPoint);
  }

  running(): BackupRecord[] {
    return (this.statements.running.all() as BackupRow[]).map(toBackup);
  }

  latestCommitted(clientId: number): BackupRecord | undefined {
    const row = this.statements.latestCommitted.get(clientId) as BackupRow | undefined;
    return row && toBackup(row);
  }

  /** The newest committed complete backup: one row read, not the client's history with its labels. */
  latestCommittedComplete(clientId: number): BackupRecord | undefined {
    const row = this.statements.latestCommittedComplete.get(clientId, COMPLETE_KIND) as BackupRow | undefined;
    return row && toBackup(row);
  }

  /** Makes a running backup visible and counts its references, in one durable transaction. */
  commit(backupId: number, stats: BackupStats, labels: Readonly<Record<string, string>>, finishedAt: number): void {
    this.database.transaction(() => {
      const result = this.statements.commit.run(finishedAt, stats.files, stats.logicalBytes, stats.newBytes, stats.storedBytes,
        stats.unreadableFiles, JSON.stringify(labels), backupId);
      if (result.changes !== 1) throw new CorruptError(`backup row ${backupId} is not running; cannot commit`);
      const { clientId, kind } = this.statements.kindOf.get(backupId) as { clientId: number; kind: number };
      if (kind === COMPLETE_KIND) {
        // Remembered apart from the rows, as numbers are: deleting the newest complete backup frees no ordinal.
        const metaKey = `last_complete_ordinal.${clientId}`;
        const ordinal = Math.max(Number(this.meta.get(metaKey) ?? 0), this.statements.lastOrdinal.get(clientId) as number) + 1;
        this.meta.set(metaKey, String(ordinal));
        this.statements.setOrdinal.run(ordinal, backupId);
      }
      this.statements.addReferences.run(backupId);
      this.clientChunks.countCommitted(clientId, backupId);
      this.statements.releaseHolds.run(backupId);
      // A chunk the backup stored and no entry of it names (a file that failed after its chunks went) was known through its hold alone.
      this.clientChunks.forgetUnreferenced(clientId);
    }, true);
  }

  /**
   * Drops a running (never committed) backup a few thousand entries at a time, emptying the
   * write-ahead log after each step. One transaction over all its rows needs log space in
   * proportion to them, which a full disk does not have; steps need a bounded few hundred KiB.
   * Nothing references a running backup's entries, so a crash between steps loses nothing: the
   * row stays running and the next open goes on where this stopped.
   */
  deleteRunning(backupId: number, entriesPerStep = 2000): void {
    for (;;) {
      const removed = this.database.transaction(() => this.statements.deleteSomeEntries.run(backupId, backupId, entriesPerStep).changes);
      this.database.checkpointLog();
      if (removed < entriesPerStep) break;
    }
    this.database.transaction(() => {
      if (this.statements.deleteRunningRow.run(backupId).changes !== 1) throw new CorruptError(`backup row ${backupId} is not running; cannot drop it as unfinished`);
    }, true);
  }

  /**
   * Drops a backup (running or committed) and its entries, releasing a committed one's references;
   * what its client may no longer reference becomes a candidate for ClientChunksTable.forgetUnreferenced,
   * which the caller runs in the same transaction.
   */
  delete(backupId: number): void {
    this.database.transaction(() => {
      const owner = this.statements.kindOf.get(backupId) as { clientId: number } | undefined;
      const wasCommitted = this.statements.stateOf.get(backupId) === 'committed';
      if (wasCommitted) this.statements.dropReferences.run(backupId);
      if (owner !== undefined) this.clientChunks.releaseBackup(owner.clientId, backupId, wasCommitted);
      this.statements.deleteEntries.run(backupId);
      this.statements.deleteRow.run(backupId);
    }, true);
  }

  /** Durable before it returns: a protection acknowledged and then lost to a power cut would let retention delete the backup. */
  setProtected(backupId: number, isProtected: boolean): void {
    this.database.transaction(() => this.statements.setProtected.run(isProtected ? 1 : 0, backupId), true);
  }

  totals(): { backups: number; logicalBytes: number } {
    return this.statements.committedCount.get() as { backups: number; logicalBytes: number };
  }
}
