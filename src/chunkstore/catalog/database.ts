// Opens the catalog's SQLite file (WAL) at the current schema version, migrating older stores,
// and runs transactions; only the catalog's table modules hold the connection.
import Database from 'better-sqlite3';
import { completeVersion2, MIGRATE_1_TO_2_SQL, MIGRATE_2_TO_3_SQL, MIGRATE_3_TO_4_SQL, MIGRATE_4_TO_5_SQL, MIGRATE_5_TO_6_SQL, MIGRATE_6_TO_7_SQL, MIGRATE_7_TO_8_SQL, OWN_COPIES_SQL, SCHEMA_SQL, SCHEMA_VERSION } from './schema';
import { CorruptError, DiskFullError } from '../../common/errors';
import { contentHashOf } from '../../common/content-hash';
import type { Logger } from '../../common/logger';

export type Connection = Database.Database;

/**
 * A catalog a newer cpsbackup wrote (its schema version is past this one's): not damage. Whoever meets it
 * stops there; in particular `recover` does not give way to an older snapshot, whose catalog lacks the newer
 * one's backups and whose snapshots would prune it.
 */
export class NewerCatalogError extends CorruptError {}

/**
 * Version 1 named a content by the SHA-256 of its bytes; version 2 by that of its chunk hashes
 * (content-hash.ts), from commit 883b907 on (completeVersion2). A content whose chunk rows are gone keeps its
 * old hash: check reports it.
 */
function rehashContents(connection: Connection): void {
  const chunkHashes = connection.prepare(
    `SELECT ch.hash FROM content_chunks cc LEFT JOIN chunks ch ON ch.id = cc.chunk_id WHERE cc.content_id = ? ORDER BY cc.seq`).pluck();
  const update = connection.prepare(`UPDATE contents SET hash = ? WHERE id = ?`);
  for (const id of connection.prepare(`SELECT id FROM contents`).pluck().all() as number[]) {
    const hashes = chunkHashes.all(id) as (Buffer | null)[];
    if (hashes.some((hash) => hash === null)) continue;
    update.run(contentHashOf(hashes as Buffer[]), id);
  }
}

export class CatalogDatabase {
  readonly connection: Connection;

  /**
   * logger: told when an older catalog is upgraded, which can take a while (see migrate). isReadOnly:
   * beside the server that owns the store (a retention dry run): no write, no upgrade, no checkpoint.
   */
  constructor(readonly file: string, private readonly logger?: Logger, isReadOnly = false) {
    // Read-only for SQLite too: query_only alone still checkpoints the log into the file at the last close.
    this.connection = new Database(file, { fileMustExist: isReadOnly, readonly: isReadOnly });
    if (isReadOnly) {
      this.openForReading();
      return;
    }
    try {
      this.connection.pragma('journal_mode = WAL');
      // NORMAL for the bulk of inserts; the transactions that make a backup visible or gone switch to FULL.
      this.connection.pragma('synchronous = NORMAL');
      this.connection.pragma('foreign_keys = ON');
      // 4 MiB instead of better-sqlite3's 16: the server's memory bound is 256 MiB, and pages that
      // fall out of this cache are still in the operating system's.
      this.connection.pragma('cache_size = -4096');
      this.migrate();
    } catch (error) {
      this.connection.close();
      throw this.diskFullOr(error);
    }
    // A log left by a crash, or by creating the schema, is folded in now rather than at the first backup.
    this.checkpointLog();
  }

  /**
   * For reading only (the Catalog sets query_only once its tables have made their TEMP tables): SQLite's
   * own locking gives a consistent view beside the server's writes. A catalog at another schema is not
   * upgraded here: the server does that when it starts.
   */
  private openForReading(): void {
    try {
      this.connection.pragma('cache_size = -4096');
      const version = Number(this.connection.prepare(`SELECT value FROM meta WHERE key = 'schema_version'`).pluck().get());
      if (version > SCHEMA_VERSION) throw new NewerCatalogError(`${this.file}: catalog schema version ${version} is newer than this server (${SCHEMA_VERSION}); upgrade cpsbackup`);
      if (version !== SCHEMA_VERSION) {
        throw new CorruptError(`${this.file}: catalog schema version ${version}, where this cpsbackup reads ${SCHEMA_VERSION}: `
          + (version < SCHEMA_VERSION ? 'start the server once to upgrade it' : 'upgrade cpsbackup'));
      }
    } catch (error) {
      this.connection.close();
      throw error;
    }
  }

  /**
   * SQLite's own words for a full disk at the open ("database or disk is full"; "disk I/O error" when not even
   * the shared-memory file fits) came with a stack: said as the full store it is. The migration is one
   * transaction, so nothing in the catalog changed.
   */
  private diskFullOr(error: unknown): unknown {
    const code = (error as { code?: unknown }).code;
    if (code !== 'SQLITE_FULL' && code !== 'SQLITE_IOERR_SHMSIZE') return error;
    const upgrade = this.upgradingFrom === undefined ? '' : ` to upgrade it from schema ${this.upgradingFrom} to ${SCHEMA_VERSION}`;
    return new DiskFullError(`store is full: cannot open the catalog ${this.file}${upgrade} (${String(code)}); nothing in it was changed: `
      + 'free space on its disk and start again', { cause: error });
  }

  /** The schema the catalog is being upgraded from, while it is. */
  private upgradingFrom: number | undefined;

  private migrate(): void {
    const hasMeta = this.connection.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'`).get() !== undefined;
    const recorded = hasMeta
      ? (this.connection.prepare(`SELECT value FROM meta WHERE key = 'schema_version'`).pluck().get() as string | undefined)
      : undefined;
    const version = recorded === undefined ? undefined : Number(recorded);
    if (version !== undefined && version > SCHEMA_VERSION) {
      throw new NewerCatalogError(`${this.file}: catalog schema version ${version} is newer than this server (${SCHEMA_VERSION}); upgrade cpsbackup`);
    }
    // Upgrading to version 4 counts every committed entry once (~0.6 s per million here): a server
    // whose start takes that long should say why, and how long it took.
    const isUpgrade = version !== undefined && version < SCHEMA_VERSION;
    const startedAt = performance.now();
    // From version 3 the count runs (then version 5's copy of a stored size per client chunk, one
    // index probe each); an older one also rewrites its contents or backups first.
    const rate = version === 3 ? ' (about 1 s per 1.5 million backed-up files)' : '';
    if (isUpgrade) this.logger?.info(`${this.file}: upgrading the catalog from schema ${version} to ${SCHEMA_VERSION}; a large catalog takes a while${rate}`);
    if (isUpgrade) this.upgradingFrom = version;
    this.transaction(() => {
      if (version === 1) {
        this.connection.exec(MIGRATE_1_TO_2_SQL);
        rehashContents(this.connection);
      }
      if (version === 2 && completeVersion2(this.connection)) rehashContents(this.connection);
      if (version !== undefined && version < 3) this.connection.exec(MIGRATE_2_TO_3_SQL);
      this.connection.exec(SCHEMA_SQL);
      if (version !== undefined && version < 4) this.connection.exec(MIGRATE_3_TO_4_SQL);
      if (version !== undefined && version < 5) this.connection.exec(MIGRATE_4_TO_5_SQL);
      if (version !== undefined && version < 6) this.connection.exec(MIGRATE_5_TO_6_SQL);
      if (version !== undefined && version < 7) this.connection.exec(MIGRATE_6_TO_7_SQL);
      if (version !== undefined && version < 8) this.connection.exec(MIGRATE_7_TO_8_SQL);
      this.connection.exec(OWN_COPIES_SQL);
      this.connection.prepare(`INSERT INTO meta (key, value) VALUES ('schema_version', ?)
        ON CONFLICT(key) DO UPDATE SET value = excluded.value`).run(String(SCHEMA_VERSION));
    }, true);
    if (isUpgrade) this.logger?.info(`${this.file}: catalog upgraded to schema ${SCHEMA_VERSION} in ${((performance.now() - startedAt) / 1000).toFixed(1)} s`);
  }

  /** Runs fn in one transaction; with isDurable the commit is fsynced (synchronous=FULL) before returning. */
  transaction<T>(fn: () => T, isDurable = false): T {
    if (!isDurable || this.connection.inTransaction) return this.connection.transaction(fn)();
    this.connection.pragma('synchronous = FULL');
    try {
      return this.connection.transaction(fn)();
    } finally {
      this.connection.pragma('synchronous = NORMAL');
    }
  }

  /**
   * Copies the write-ahead log into the catalog file and empties it. SQLite keeps the WAL at its
   * largest size (4+ MiB after a backup of 40,000 files) until a later checkpoint restarts it;
   * emptied after each backup, the store takes only what it holds. It never fails its caller: a
   * checkpoint that is busy or short of space leaves every page in the log, where SQLite reads it.
   */
  checkpointLog(): void {
    try {
      this.connection.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      // see above: nothing is lost, only the log stays larger until the next checkpoint
    }
  }

  close(): void {
    this.connection.close();
  }
}
