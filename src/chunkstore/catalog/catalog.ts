// The SQLite catalog (WAL): clients, backups, entries, contents, chunks and packs.
// Every statement is prepared once; callers get plain records and never hold a cursor open.
import Database from 'better-sqlite3';
import { SCHEMA_SQL, SCHEMA_VERSION } from './schema';
import type { BackupRecord, BackupStats, ChunkLocation, ContentRecord, NewChunkRow, StoredEntry } from './records';
import { CorruptError } from '../../common/errors';

const ENTRY_COLUMNS =
  'path, type, mode, uid, gid, mtime_sec, mtime_nsec, ctime_sec, ctime_nsec, inode, device, size, link_target, content_id';

/** An entries row as better-sqlite3's raw mode returns it, in ENTRY_COLUMNS order: named rows cost three times as much to read. */
type EntryRow = [
  path: string, type: number, mode: number, uid: number, gid: number, mtimeSec: number, mtimeNsec: number,
  ctimeSec: number, ctimeNsec: number, inode: number, device: number, size: number, linkTarget: string, contentId: number | null,
];

interface BackupRow {
  id: number; client_id: number; client_name: string; number: number; state: 'running' | 'committed';
  kind: number; hostname: string; started_at: number; finished_at: number | null; files: number;
  logical_bytes: number; new_bytes: number; stored_bytes: number; labels: string;
}

function toEntry(row: EntryRow): StoredEntry {
  const [path, type, mode, uid, gid, mtimeSec, mtimeNsec, ctimeSec, ctimeNsec, inode, device, size, linkTarget, contentId] = row;
  return { path, type, mode, uid, gid, mtimeSec, mtimeNsec, ctimeSec, ctimeNsec, inode, device, size, linkTarget, contentId };
}

function toBackup(row: BackupRow): BackupRecord {
  return {
    id: row.id, clientId: row.client_id, clientName: row.client_name, number: row.number, state: row.state,
    kind: row.kind, hostname: row.hostname, startedAt: row.started_at, finishedAt: row.finished_at,
    files: row.files, logicalBytes: row.logical_bytes, newBytes: row.new_bytes, storedBytes: row.stored_bytes,
    labels: JSON.parse(row.labels) as Record<string, string>,
  };
}

/** A chunk's location as ChunkLocation names it; the queries add their own FROM and WHERE. */
export interface ListedContent extends ContentRecord {
  /** In order; null where the chunk's row is missing; undefined when the content is too big to list. */
  readonly chunks: readonly (ChunkLocation | null)[] | undefined;
}

export interface EntriesPage {
  readonly entries: StoredEntry[];
  readonly contents: ReadonlyMap<number, ListedContent>;
}

const CHUNK_LOCATION_COLUMNS =
  'ch.id AS chunkId, ch.hash, ch.pack_id AS packId, p.name AS packName, ch.offset, ch.stored_size AS storedSize, ch.raw_size AS rawSize';

/** A chunksOfPathRange row: content id, seq, then CHUNK_LOCATION_COLUMNS (all null for a lost chunk row). */
type ChunkOfContentRow = [
  contentId: number, seq: number, chunkId: number | null, hash: Buffer, packId: number, packName: string,
  offset: number, storedSize: number, rawSize: number,
];

const BACKUP_SELECT = `SELECT b.*, c.name AS client_name FROM backups b JOIN clients c ON c.id = b.client_id`;

export class Catalog {
  readonly file: string;
  private readonly database: Database.Database;
  private readonly statements;

  constructor(file: string) {
    this.file = file;
    this.database = new Database(file);
    this.database.pragma('journal_mode = WAL');
    // NORMAL for the bulk of inserts; the commit that makes a backup visible switches to FULL.
    this.database.pragma('synchronous = NORMAL');
    this.database.pragma('foreign_keys = ON');
    // 4 MiB instead of better-sqlite3's 16: the server's memory bound is 256 MiB, and pages that
    // fall out of this cache are still in the operating system's.
    this.database.pragma('cache_size = -4096');
    this.database.exec(SCHEMA_SQL);
    const version = this.database.prepare(`SELECT value FROM meta WHERE key = 'schema_version'`).get() as
      | { value: string } | undefined;
    if (version === undefined) {
      this.database.prepare(`INSERT INTO meta (key, value) VALUES ('schema_version', ?)`).run(String(SCHEMA_VERSION));
    } else if (Number(version.value) > SCHEMA_VERSION) {
      throw new CorruptError(`${file}: catalog schema version ${version.value} is newer than this server (${SCHEMA_VERSION})`);
    }
    const db = this.database;
    this.statements = {
      getMeta: db.prepare(`SELECT value FROM meta WHERE key = ?`).pluck(),
      setMeta: db.prepare(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`),
      clientByName: db.prepare(`SELECT id FROM clients WHERE name = ?`).pluck(),
      insertClient: db.prepare(`INSERT INTO clients (name) VALUES (?)`),
      nextBackupNumber: db.prepare(`SELECT COALESCE(MAX(number), 0) + 1 FROM backups WHERE client_id = ?`).pluck(),
      lastNumberMeta: db.prepare(`SELECT value FROM meta WHERE key = ?`).pluck(),
      insertBackup: db.prepare(
        `INSERT INTO backups (client_id, number, state, kind, hostname, started_at, labels) VALUES (?, ?, 'running', ?, ?, ?, ?)`),
      backupById: db.prepare(`${BACKUP_SELECT} WHERE b.id = ?`),
      backupByNumber: db.prepare(`${BACKUP_SELECT} WHERE b.client_id = ? AND b.number = ?`),
      committedBackups: db.prepare(`${BACKUP_SELECT} WHERE b.client_id = ? AND b.state = 'committed' ORDER BY b.number`),
      allCommittedBackups: db.prepare(`${BACKUP_SELECT} WHERE b.state = 'committed' ORDER BY c.name, b.number`),
      runningBackups: db.prepare(`${BACKUP_SELECT} WHERE b.state = 'running'`),
      latestCommitted: db.prepare(`${BACKUP_SELECT} WHERE b.client_id = ? AND b.state = 'committed' ORDER BY b.number DESC LIMIT 1`),
      commitBackup: db.prepare(
        `UPDATE backups SET state = 'committed', finished_at = ?, files = ?, logical_bytes = ?, new_bytes = ?, stored_bytes = ?, labels = ? WHERE id = ? AND state = 'running'`),
      deleteBackupRow: db.prepare(`DELETE FROM backups WHERE id = ?`),
      deleteEntriesOf: db.prepare(`DELETE FROM entries WHERE backup_id = ?`),
      insertEntry: db.prepare(`INSERT INTO entries (backup_id, ${ENTRY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      entryAt: db.prepare(`SELECT ${ENTRY_COLUMNS} FROM entries WHERE backup_id = ? AND path = ?`).raw(),
      entriesPage: db.prepare(`SELECT ${ENTRY_COLUMNS} FROM entries WHERE backup_id = ? AND path > ? ORDER BY path LIMIT ?`).raw(),
      entriesFrom: db.prepare(`SELECT ${ENTRY_COLUMNS} FROM entries WHERE backup_id = ? AND path >= ? ORDER BY path LIMIT ?`).raw(),
      contentsOfPathRange: db.prepare(
        `SELECT id, hash, size FROM contents WHERE id IN
           (SELECT content_id FROM entries WHERE backup_id = ? AND path > ? AND path <= ? AND content_id IS NOT NULL)`).raw(),
      chunksOfPathRange: db.prepare(
        `SELECT cc.content_id AS contentId, cc.seq, ${CHUNK_LOCATION_COLUMNS}
         FROM content_chunks cc LEFT JOIN chunks ch ON ch.id = cc.chunk_id LEFT JOIN packs p ON p.id = ch.pack_id
         WHERE cc.content_id IN (SELECT e.content_id FROM entries e JOIN contents c ON c.id = e.content_id
                                 WHERE e.backup_id = ? AND e.path > ? AND e.path <= ? AND c.size <= ?)
         ORDER BY cc.content_id, cc.seq`).raw(),
      findChunk: db.prepare(`SELECT ${CHUNK_LOCATION_COLUMNS} FROM chunks ch JOIN packs p ON p.id = ch.pack_id WHERE ch.hash = ?`),
      chunksOfPack: db.prepare(
        `SELECT ${CHUNK_LOCATION_COLUMNS} FROM chunks ch JOIN packs p ON p.id = ch.pack_id WHERE ch.pack_id = ? ORDER BY ch.offset`),
      insertChunk: db.prepare(`INSERT OR IGNORE INTO chunks (hash, pack_id, offset, stored_size, raw_size) VALUES (?, ?, ?, ?, ?)`),
      chunkIdByHash: db.prepare(`SELECT id FROM chunks WHERE hash = ?`).pluck(),
      knownChunk: db.prepare(`SELECT id AS chunkId, pack_id AS packId FROM chunks WHERE hash = ?`),
      findContent: db.prepare(`SELECT id, hash, size FROM contents WHERE hash = ? AND size = ? LIMIT 1`),
      contentById: db.prepare(`SELECT id, hash, size FROM contents WHERE id = ?`),
      insertContent: db.prepare(`INSERT INTO contents (hash, size) VALUES (?, ?)`),
      insertContentChunk: db.prepare(`INSERT INTO content_chunks (content_id, seq, chunk_id) VALUES (?, ?, ?)`),
      contentChunksPage: db.prepare(
        `SELECT cc.seq, ${CHUNK_LOCATION_COLUMNS}
         FROM content_chunks cc LEFT JOIN chunks ch ON ch.id = cc.chunk_id LEFT JOIN packs p ON p.id = ch.pack_id
         WHERE cc.content_id = ? AND cc.seq >= ? ORDER BY cc.seq LIMIT ?`),
      insertPack: db.prepare(`INSERT INTO packs (name, size, is_sealed, created_at) VALUES (?, 0, 0, ?)`),
      sealPack: db.prepare(`UPDATE packs SET size = ?, is_sealed = 1 WHERE id = ?`),
    };
    // A log left by a crash, or by creating the schema, is folded in now rather than at the first backup.
    this.checkpointLog();
  }

  close(): void {
    this.database.close();
  }

  /** Runs fn in one transaction; with isDurable the commit is fsynced before returning. */
  transaction<T>(fn: () => T, isDurable = false): T {
    if (!isDurable) return this.database.transaction(fn)();
    this.database.pragma('synchronous = FULL');
    try {
      return this.database.transaction(fn)();
    } finally {
      this.database.pragma('synchronous = NORMAL');
    }
  }

  /** Raw access for maintenance modules (gc, check) that own their SQL. */
  get sqlite(): Database.Database {
    return this.database;
  }

  getMeta(key: string): string | undefined {
    return this.statements.getMeta.get(key) as string | undefined;
  }

  setMeta(key: string, value: string): void {
    this.statements.setMeta.run(key, value);
  }

  clientId(name: string): number {
    const existing = this.statements.clientByName.get(name) as number | undefined;
    if (existing !== undefined) return existing;
    return Number(this.statements.insertClient.run(name).lastInsertRowid);
  }

  findClientId(name: string): number | undefined {
    return this.statements.clientByName.get(name) as number | undefined;
  }

  /** Numbers are never reused, even after a failed or deleted backup, so an id always means one backup. */
  createBackup(clientId: number, kind: number, hostname: string, labels: Record<string, string>, startedAt: number): BackupRecord {
    return this.transaction(() => {
      const metaKey = `last_number.${clientId}`;
      const lastUsed = Number(this.statements.lastNumberMeta.get(metaKey) ?? 0);
      const number = Math.max(lastUsed + 1, this.statements.nextBackupNumber.get(clientId) as number);
      this.statements.setMeta.run(metaKey, String(number));
      const id = Number(this.statements.insertBackup.run(clientId, number, kind, hostname, startedAt, JSON.stringify(labels)).lastInsertRowid);
      return toBackup(this.statements.backupById.get(id) as BackupRow);
    });
  }

  backupById(id: number): BackupRecord | undefined {
    const row = this.statements.backupById.get(id) as BackupRow | undefined;
    return row && toBackup(row);
  }

  backupByNumber(clientId: number, number: number): BackupRecord | undefined {
    const row = this.statements.backupByNumber.get(clientId, number) as BackupRow | undefined;
    return row && toBackup(row);
  }

  committedBackups(clientId: number): BackupRecord[] {
    return (this.statements.committedBackups.all(clientId) as BackupRow[]).map(toBackup);
  }

  allCommittedBackups(): BackupRecord[] {
    return (this.statements.allCommittedBackups.all() as BackupRow[]).map(toBackup);
  }

  runningBackups(): BackupRecord[] {
    return (this.statements.runningBackups.all() as BackupRow[]).map(toBackup);
  }

  latestCommitted(clientId: number): BackupRecord | undefined {
    const row = this.statements.latestCommitted.get(clientId) as BackupRow | undefined;
    return row && toBackup(row);
  }

  /** Makes a running backup visible; fsynced (synchronous=FULL) before it returns. */
  commitBackup(backupId: number, stats: BackupStats, labels: Record<string, string>, finishedAt: number): void {
    this.transaction(() => {
      const result = this.statements.commitBackup.run(
        finishedAt, stats.files, stats.logicalBytes, stats.newBytes, stats.storedBytes, JSON.stringify(labels), backupId);
      if (result.changes !== 1) throw new CorruptError(`backup row ${backupId} is not running; cannot commit`);
    }, true);
    this.checkpointLog();
  }

  /**
   * Copies the write-ahead log into catalog.db and empties it. SQLite keeps the WAL file at its
   * largest size (4+ MiB after a backup of 40,000 files) until a later checkpoint restarts it;
   * emptied after each backup, the store takes only what it holds, and catalog.db alone is the
   * whole catalog for anyone copying the store. It never fails its caller: the backup is already
   * committed, and a checkpoint that is busy or short of space leaves every page in the log,
   * where SQLite reads it and the next checkpoint folds it in.
   */
  private checkpointLog(): void {
    try {
      this.database.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      // see above: nothing is lost, only the log stays larger until the next checkpoint
    }
  }

  /** Drops a backup and its entries; contents and chunks are left for garbage collection. */
  deleteBackup(backupId: number): void {
    this.transaction(() => {
      this.statements.deleteEntriesOf.run(backupId);
      this.statements.deleteBackupRow.run(backupId);
    }, true);
  }

  /**
   * Inserts the contents a session recorded in memory, then its entries, in one transaction;
   * `contentOf(entry)` gives each entry's content (a pending one gets its id here).
   */
  insertContentsAndEntries<Pending extends { readonly hash: Buffer; readonly size: number; readonly chunks: readonly (number | NewChunkRow)[] }>(
    backupId: number, contents: Iterable<Pending>, entries: readonly { entry: StoredEntry; content: number | Pending | null }[]): void {
    this.transaction(() => {
      const ids = new Map<Pending, number>();
      for (const content of contents) ids.set(content, this.insertContentRows(content.hash, content.size, content.chunks));
      this.insertEntryRows(backupId, entries.map(({ entry, content }) => ({
        ...entry, contentId: content === null ? null : typeof content === 'number' ? content : ids.get(content)!,
      })));
    });
  }

  insertEntries(backupId: number, entries: readonly StoredEntry[]): void {
    this.transaction(() => this.insertEntryRows(backupId, entries));
  }

  /** Inside a caller's transaction only. */
  private insertEntryRows(backupId: number, entries: readonly StoredEntry[]): void {
    for (const entry of entries) {
      this.statements.insertEntry.run(
        backupId, entry.path, entry.type, entry.mode, entry.uid, entry.gid, entry.mtimeSec, entry.mtimeNsec,
        entry.ctimeSec, entry.ctimeNsec, entry.inode, entry.device, entry.size, entry.linkTarget, entry.contentId);
    }
  }

  entryAt(backupId: number, path: string): StoredEntry | undefined {
    const row = this.statements.entryAt.get(backupId, path) as EntryRow | undefined;
    return row && toEntry(row);
  }

  /** Up to `limit` entries in path order from `fromPath` on, that path included. */
  entriesFrom(backupId: number, fromPath: string, limit: number): StoredEntry[] {
    return (this.statements.entriesFrom.all(backupId, fromPath, limit) as EntryRow[]).map(toEntry);
  }

  /** Entries in path order, a page at a time: no cursor stays open across awaits. */
  *entries(backupId: number, pageSize = 1000): Generator<StoredEntry> {
    let after = '';
    for (;;) {
      const rows = this.statements.entriesPage.all(backupId, after, pageSize) as EntryRow[];
      for (const row of rows) yield toEntry(row);
      if (rows.length < pageSize) return;
      after = rows[rows.length - 1][0];
    }
  }

  /**
   * A page of a backup's entries in path order with their contents, in two queries instead of
   * two per file. Contents up to listChunksUpTo bytes come with their chunk locations (null for
   * a chunk row that is gone); bigger ones page through contentChunks(), so a page stays small.
   */
  entriesWithContents(backupId: number, afterPath: string, pageSize: number, listChunksUpTo: number): EntriesPage {
    const entries = (this.statements.entriesPage.all(backupId, afterPath, pageSize) as EntryRow[]).map(toEntry);
    const contents = new Map<number, ListedContent>();
    if (entries.length === 0) return { entries, contents };
    const lastPath = entries[entries.length - 1].path;
    // Raw rows, in the SELECT's column order: this runs for every page of every restore.
    for (const [id, hash, size] of this.statements.contentsOfPathRange.all(backupId, afterPath, lastPath) as [number, Buffer, number][]) {
      contents.set(id, { id, hash, size, chunks: size <= listChunksUpTo ? [] : undefined });
    }
    const rows = this.statements.chunksOfPathRange.all(backupId, afterPath, lastPath, listChunksUpTo) as ChunkOfContentRow[];
    for (const [contentId, , chunkId, hash, packId, packName, offset, storedSize, rawSize] of rows) {
      const chunks = contents.get(contentId)?.chunks as (ChunkLocation | null)[] | undefined;
      if (chunks === undefined) continue;
      // A gap in seq is a lost content_chunks row: the size check after reassembly reports it.
      chunks.push(chunkId === null ? null : { chunkId, hash, packId, packName, offset, storedSize, rawSize });
    }
    return { entries, contents };
  }

  findChunk(hash: Buffer): ChunkLocation | undefined {
    return this.statements.findChunk.get(hash) as ChunkLocation | undefined;
  }

  /** The dedup lookup, once per chunk received: id and pack only, without findChunk's join. */
  knownChunk(hash: Buffer): { readonly chunkId: number; readonly packId: number } | undefined {
    return this.statements.knownChunk.get(hash) as { chunkId: number; packId: number } | undefined;
  }

  /** The chunks recorded in one pack, in file order (for compaction and for re-reading unsealed packs). */
  chunksOfPack(packId: number): ChunkLocation[] {
    return this.statements.chunksOfPack.all(packId) as ChunkLocation[];
  }

  /** Returns the chunk's id; if another session stored the same chunk first, the existing row wins. */
  insertChunk(hash: Buffer, packId: number, offset: number, storedSize: number, rawSize: number): number {
    const result = this.statements.insertChunk.run(hash, packId, offset, storedSize, rawSize);
    return result.changes === 1 ? Number(result.lastInsertRowid) : this.statements.chunkIdByHash.get(hash) as number;
  }

  insertChunks(chunks: readonly NewChunkRow[]): void {
    this.transaction(() => {
      for (const chunk of chunks) this.insertChunk(chunk.hash, chunk.packId, chunk.offset, chunk.storedSize, chunk.rawSize);
    });
  }

  findContent(hash: Buffer, size: number): ContentRecord | undefined {
    return this.statements.findContent.get(hash, size) as ContentRecord | undefined;
  }

  contentById(id: number): ContentRecord | undefined {
    return this.statements.contentById.get(id) as ContentRecord | undefined;
  }

  insertContent(hash: Buffer, size: number, chunkIds: readonly number[]): number {
    return this.insertContentWithChunks(hash, size, chunkIds);
  }

  /**
   * Records a content and any chunks it stored for the first time, in one transaction: for
   * small files a transaction per chunk plus one per content was most of the server's time.
   */
  insertContentWithChunks(hash: Buffer, size: number, chunks: readonly (number | NewChunkRow)[]): number {
    return this.transaction(() => this.insertContentRows(hash, size, chunks));
  }

  /**
   * Inside a caller's transaction only: a nested transaction is a SAVEPOINT, which cost five
   * times the inserts themselves when a session flushed thousands of small files at once.
   */
  private insertContentRows(hash: Buffer, size: number, chunks: readonly (number | NewChunkRow)[]): number {
    const id = Number(this.statements.insertContent.run(hash, size).lastInsertRowid);
    chunks.forEach((chunk, seq) => {
      const chunkId = typeof chunk === 'number' ? chunk : this.insertChunk(chunk.hash, chunk.packId, chunk.offset, chunk.storedSize, chunk.rawSize);
      this.statements.insertContentChunk.run(id, seq, chunkId);
    });
    return id;
  }

  /** A content's chunks in order, paged; a chunk whose row is missing yields chunkId null (damage). */
  *contentChunks(contentId: number, pageSize = 512): Generator<ChunkLocation | { chunkId: null; seq: number }> {
    let seq = 0;
    for (;;) {
      const rows = this.statements.contentChunksPage.all(contentId, seq, pageSize) as (ChunkLocation & { seq: number })[];
      for (const row of rows) yield row.chunkId === null ? { chunkId: null, seq: row.seq } : row;
      if (rows.length < pageSize) return;
      seq = rows[rows.length - 1].seq + 1;
    }
  }

  createPack(name: string, createdAt: number): number {
    return Number(this.statements.insertPack.run(name, createdAt).lastInsertRowid);
  }

  sealPack(packId: number, size: number): void {
    this.statements.sealPack.run(size, packId);
  }
}
