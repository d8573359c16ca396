// The catalog's SQLite schema (version 9) and the migrations from versions 1 to 8 (version 9 adds a table only).
// Every backup is a virtual full copy: entries of each backup point at shared, reference-counted contents.

import type Database from 'better-sqlite3';

export const SCHEMA_VERSION = 9;

/**
 * A content's hash is the SHA-256 of its chunks' hashes in order (not of its bytes): the server can
 * compute it from a chunk list a client sends without reading a byte, and two contents with the
 * same hash hold the same chunks, so a client can never make another's file dedup against a lie.
 *
 * Reference counts make garbage collection a short sweep instead of a scan of every entry:
 * contents.refs counts entries of committed backups; chunks.refs counts content_chunks rows.
 * Rows of a running backup are not counted until its commit: the open session protects them.
 */
export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS clients (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS backups (
  id INTEGER PRIMARY KEY,
  client_id INTEGER NOT NULL REFERENCES clients(id),
  number INTEGER NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('running', 'committed')),
  kind INTEGER NOT NULL DEFAULT 0,
  hostname TEXT NOT NULL DEFAULT '',
  started_at INTEGER NOT NULL,
  finished_at INTEGER,
  files INTEGER NOT NULL DEFAULT 0,
  logical_bytes INTEGER NOT NULL DEFAULT 0,
  new_bytes INTEGER NOT NULL DEFAULT 0,
  stored_bytes INTEGER NOT NULL DEFAULT 0,
  labels TEXT NOT NULL DEFAULT '{}',
  unreadable_files INTEGER NOT NULL DEFAULT 0,
  is_protected INTEGER NOT NULL DEFAULT 0,
  -- Place among the client's committed complete backups (1, 2, 3 … with no gap for a failed attempt
  -- or a partial backup), set at commit: burp's keep levels count these, not backup numbers.
  complete_ordinal INTEGER,
  -- What its entries' own metadata takes in the catalog (ENTRY_METADATA_BYTES_SQL), set at commit:
  -- part of its client's usage, since a backup of names and xattrs without content takes room too.
  metadata_bytes INTEGER NOT NULL DEFAULT 0,
  UNIQUE (client_id, number)
);
CREATE TABLE IF NOT EXISTS packs (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  size INTEGER NOT NULL DEFAULT 0,
  is_sealed INTEGER NOT NULL DEFAULT 1,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
  id INTEGER PRIMARY KEY,
  hash BLOB NOT NULL UNIQUE,
  pack_id INTEGER NOT NULL REFERENCES packs(id),
  offset INTEGER NOT NULL,
  stored_size INTEGER NOT NULL,
  raw_size INTEGER NOT NULL,
  refs INTEGER NOT NULL DEFAULT 0,
  -- Set by check --read-data: the stored copy does not read back. Never deduplicated against; the
  -- next backup holding the same bytes stores them again and the row moves to that copy (healed).
  is_damaged INTEGER NOT NULL DEFAULT 0,
  -- SHA-256 of the stored payload (its encoding, not its bytes): another client that sends the same
  -- bytes encoded otherwise keeps its own copy (client_chunks.pack_id). NULL in rows from before version 6.
  payload_hash BLOB
);
CREATE INDEX IF NOT EXISTS chunks_pack ON chunks(pack_id);
CREATE TABLE IF NOT EXISTS contents (
  id INTEGER PRIMARY KEY,
  hash BLOB NOT NULL,
  size INTEGER NOT NULL,
  refs INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS contents_hash ON contents(hash, size);
CREATE TABLE IF NOT EXISTS content_chunks (
  content_id INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  chunk_id INTEGER NOT NULL,
  PRIMARY KEY (content_id, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS content_chunks_chunk ON content_chunks(chunk_id);
-- Names are bytes (BLOB): any byte but '/' and NUL, compared with memcmp, as the file system has them.
-- No index on content_id: it cost 40 % of a backup's catalog rows and one more B-tree insert per entry.
CREATE TABLE IF NOT EXISTS entries (
  backup_id INTEGER NOT NULL,
  path BLOB NOT NULL,
  type INTEGER NOT NULL,
  mode INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  gid INTEGER NOT NULL,
  mtime_sec INTEGER NOT NULL,
  mtime_nsec INTEGER NOT NULL,
  ctime_sec INTEGER NOT NULL,
  ctime_nsec INTEGER NOT NULL,
  inode INTEGER NOT NULL,
  device INTEGER NOT NULL,
  size INTEGER NOT NULL,
  link_target BLOB NOT NULL DEFAULT x'',
  content_id INTEGER,
  user_name TEXT NOT NULL DEFAULT '',
  group_name TEXT NOT NULL DEFAULT '',
  nlink INTEGER NOT NULL DEFAULT 1,
  rdev INTEGER NOT NULL DEFAULT 0,
  xattrs BLOB,
  extents BLOB,
  -- chattr's flags a restore sets (EntryMeta.inode_flags); NULL where they were not read (rows from
  -- before version 7, entries from a client that does not send them, entry types without flags).
  inode_flags INTEGER,
  PRIMARY KEY (backup_id, path)
) WITHOUT ROWID;
-- Packs about to be put, recorded (durably) before the put; a pack's row, inserted once it is stored,
-- removes its intent (trigger below). At a start, an object no row names is deleted only if it is one
-- of these (a crash between its put and its row): any other may hold backups of a newer catalog than
-- this one (a store folder put back from a copy) and is kept (recovery.ts).
CREATE TABLE IF NOT EXISTS pack_intents (
  name TEXT PRIMARY KEY,
  recorded_at INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS pack_intent_done AFTER INSERT ON packs BEGIN
  DELETE FROM pack_intents WHERE name = NEW.name;
END;
-- Packs whose rows are gone but whose files or objects may still be read by a restore that began
-- before; deleted once no such reader is left (or at the next start).
CREATE TABLE IF NOT EXISTS doomed_packs (
  name TEXT PRIMARY KEY,
  doomed_at INTEGER NOT NULL
);
-- Packs a GC sweep took chunks from that no collection has finished with (compacted, deleted, or
-- found live enough): written with the sweep, so a server killed before the compaction still does it
-- after its start. In memory, the list died with the process and the dead space stayed until an
-- offline gc (found by review).
CREATE TABLE IF NOT EXISTS gc_pending_packs (
  pack_id INTEGER PRIMARY KEY
);
-- Chunks a backup stored, sent or used, held for its client while it runs and for a while after it
-- fails: an interrupted backup's retry then sends and stores only what is missing, and every chunk a
-- session made its client's own is kept by an entry or a hold. A commit drops its holds.
CREATE TABLE IF NOT EXISTS chunk_holds (
  chunk_id INTEGER NOT NULL,
  client_id INTEGER NOT NULL,
  backup_id INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (chunk_id, backup_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS chunk_holds_backup ON chunk_holds(backup_id);
-- Which chunks each client has stored or referenced, by hash: a client is told "the store has it"
-- only from its own rows (no oracle on other clients' data), and the lookup never touches the global
-- index, so its timing says nothing either. Rows go when their chunk is swept, and when the client's
-- last backup referencing the chunk is deleted. stored_size is what this client's own copy takes
-- (the payload it sent, or the store's encoding of the bytes it sent to be chunked), whoever stored
-- the chunk first: its quota usage is the sum, which no other client's data can change.
-- pack_id and offset: the client's own copy, where the payload it sent differs from the shared copy's
-- (another encoding). A restore of its backups reads that copy: the shared one, another client's
-- encoding, would tell it that another client stored those bytes first. NULL: the shared copy is its own.
CREATE TABLE IF NOT EXISTS client_chunks (
  client_id INTEGER NOT NULL,
  hash BLOB NOT NULL,
  stored_size INTEGER NOT NULL DEFAULT 0,
  pack_id INTEGER,
  offset INTEGER,
  PRIMARY KEY (client_id, hash)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS client_chunks_hash ON client_chunks(hash);
-- How many of each client's committed entries name each content (rows with refs 0 are deleted): a
-- deletion learns which chunks its client may no longer reference from the deleted backup's rows
-- alone, instead of reading all of the client's entries (ClientChunksTable.forgetUnreferenced).
CREATE TABLE IF NOT EXISTS client_contents (
  client_id INTEGER NOT NULL,
  content_id INTEGER NOT NULL,
  refs INTEGER NOT NULL,
  PRIMARY KEY (client_id, content_id)
) WITHOUT ROWID;
-- Empty but for the moment between a deletion's count going to 0 and its rows going.
CREATE INDEX IF NOT EXISTS client_contents_released ON client_contents(client_id, content_id) WHERE refs <= 0;
-- Garbage collection's witness: before a content whose count says unused goes, whether any client's count
-- says otherwise. On content_id alone (refs is not in it), so counting a backup's references, which
-- updates refs, writes nothing here; only a client's first entry naming a content adds a row.
CREATE INDEX IF NOT EXISTS client_contents_content ON client_contents(content_id);
CREATE INDEX IF NOT EXISTS contents_unreferenced ON contents(id) WHERE refs = 0;
CREATE INDEX IF NOT EXISTS chunks_unreferenced ON chunks(id) WHERE refs = 0;
CREATE INDEX IF NOT EXISTS chunks_damaged ON chunks(id) WHERE is_damaged = 1;
-- Contents whose chunk list check found broken (a chunk row gone, a gap, sizes or the content hash that do
-- not add up): never deduplicated against nor carried forward, so a file holding those bytes is stored as a
-- new content; check --repair takes their files out of their backups (no backup can heal a list). Version
-- 8 had none: a damaged list was reported by check and reused by every later backup (red team F3). A mark
-- goes with its content's row: content ids are taken again (no AUTOINCREMENT).
CREATE TABLE IF NOT EXISTS damaged_contents (
  content_id INTEGER PRIMARY KEY,
  reason TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS damaged_content_dropped AFTER DELETE ON contents BEGIN
  DELETE FROM damaged_contents WHERE content_id = OLD.id;
END;
`;

/** The clients' knowledge as version 2 first kept it: each client's chunks, as its backups' entries use them. */
const CLIENT_CHUNKS_AT_VERSION_2_SQL = `
CREATE TABLE IF NOT EXISTS client_chunks (
  client_id INTEGER NOT NULL,
  hash BLOB NOT NULL,
  PRIMARY KEY (client_id, hash)
) WITHOUT ROWID;
INSERT OR IGNORE INTO client_chunks (client_id, hash)
  SELECT DISTINCT b.client_id, ch.hash FROM entries e JOIN backups b ON b.id = e.backup_id
    JOIN content_chunks cc ON cc.content_id = e.content_id JOIN chunks ch ON ch.id = cc.chunk_id;
`;

/**
 * Version 2 changed twice without a new number. Commit 883b907 added client_chunks and named contents by the hash of
 * their chunks' hashes instead of their bytes'; 7958b15 added chunks.is_damaged. A catalog the first servers at
 * version 2 wrote lacks what it lacks of these: made here as version 1's migration makes it. True for a catalog
 * from before 883b907 (no client_chunks): its contents are renamed too (rehashContents). Red team redupgrade:
 * such a store's start failed with "no such column: is_damaged"; with that alone mended, every file of every
 * backup failed its hash at the restore.
 */
export function completeVersion2(connection: Database.Database): boolean {
  const chunkColumns = connection.prepare(`SELECT name FROM pragma_table_info('chunks')`).pluck().all();
  if (!chunkColumns.includes('is_damaged')) connection.exec(`ALTER TABLE chunks ADD COLUMN is_damaged INTEGER NOT NULL DEFAULT 0;`);
  const hasClientChunks = connection.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'client_chunks'`).pluck().get() !== undefined;
  if (!hasClientChunks) connection.exec(CLIENT_CHUNKS_AT_VERSION_2_SQL);
  return !hasClientChunks;
}

/**
 * Version 1 kept paths and link targets as TEXT, had no reference counts and no fidelity columns.
 * Each statement is idempotent within the migration's one transaction.
 */
export const MIGRATE_1_TO_2_SQL = `
ALTER TABLE backups ADD COLUMN unreadable_files INTEGER NOT NULL DEFAULT 0;
ALTER TABLE backups ADD COLUMN is_protected INTEGER NOT NULL DEFAULT 0;
ALTER TABLE chunks ADD COLUMN refs INTEGER NOT NULL DEFAULT 0;
ALTER TABLE chunks ADD COLUMN is_damaged INTEGER NOT NULL DEFAULT 0;
ALTER TABLE contents ADD COLUMN refs INTEGER NOT NULL DEFAULT 0;
CREATE TABLE entries_v2 (
  backup_id INTEGER NOT NULL,
  path BLOB NOT NULL,
  type INTEGER NOT NULL,
  mode INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  gid INTEGER NOT NULL,
  mtime_sec INTEGER NOT NULL,
  mtime_nsec INTEGER NOT NULL,
  ctime_sec INTEGER NOT NULL,
  ctime_nsec INTEGER NOT NULL,
  inode INTEGER NOT NULL,
  device INTEGER NOT NULL,
  size INTEGER NOT NULL,
  link_target BLOB NOT NULL DEFAULT x'',
  content_id INTEGER,
  user_name TEXT NOT NULL DEFAULT '',
  group_name TEXT NOT NULL DEFAULT '',
  nlink INTEGER NOT NULL DEFAULT 1,
  rdev INTEGER NOT NULL DEFAULT 0,
  xattrs BLOB,
  extents BLOB,
  PRIMARY KEY (backup_id, path)
) WITHOUT ROWID;
INSERT INTO entries_v2 (backup_id, path, type, mode, uid, gid, mtime_sec, mtime_nsec, ctime_sec, ctime_nsec, inode, device, size, link_target, content_id)
  SELECT backup_id, CAST(path AS BLOB), type, mode, uid, gid, mtime_sec, mtime_nsec, ctime_sec, ctime_nsec, inode, device, size,
         CAST(link_target AS BLOB), content_id FROM entries;
DROP TABLE entries;
ALTER TABLE entries_v2 RENAME TO entries;
UPDATE contents SET refs = (SELECT COUNT(*) FROM entries e JOIN backups b ON b.id = e.backup_id
                            WHERE e.content_id = contents.id AND b.state = 'committed');
UPDATE chunks SET refs = (SELECT COUNT(*) FROM content_chunks cc WHERE cc.chunk_id = chunks.id);
${CLIENT_CHUNKS_AT_VERSION_2_SQL}`;

/**
 * Version 2 had no complete_ordinal. Existing complete backups take their number as ordinal: the
 * levels they were kept by stay as they were, and backups committed from now on count on from there.
 */
export const MIGRATE_2_TO_3_SQL = `
ALTER TABLE backups ADD COLUMN complete_ordinal INTEGER;
UPDATE backups SET complete_ordinal = number WHERE state = 'committed' AND kind = 0;
`;

/**
 * Version 3 had no client_contents; run after SCHEMA_SQL has created it. Its clients' knowledge is
 * pruned once more at the next open (the store's forgetStaleClientChunksOnce): a backup id could be
 * reused then, and a later backup's commit released another's held chunks, leaving rows no deletion
 * forgets now that deletions look at their own candidates only.
 */
export const MIGRATE_3_TO_4_SQL = `
DELETE FROM meta WHERE key = 'client_chunks_pruned';
INSERT INTO client_contents (client_id, content_id, refs)
  SELECT b.client_id, e.content_id, COUNT(*) FROM entries e JOIN backups b ON b.id = e.backup_id
  WHERE b.state = 'committed' AND e.content_id IS NOT NULL GROUP BY b.client_id, e.content_id;
`;

/**
 * Version 4 charged a client's quota a share of each chunk (its stored size over the number of
 * clients holding it), which told the client whether others hold the same bytes. Its rows take the
 * chunk's stored size: the size of the copy the store has, the best known of the client's own.
 */
export const MIGRATE_4_TO_5_SQL = `
ALTER TABLE client_chunks ADD COLUMN stored_size INTEGER NOT NULL DEFAULT 0;
UPDATE client_chunks SET stored_size = COALESCE((SELECT ch.stored_size FROM chunks ch WHERE ch.hash = client_chunks.hash), 0);
`;

/**
 * Version 5 kept no payload hash and no client's own copies: every chunk row's hash is unknown (a
 * client sending such bytes later keeps its own copy), and every client's copy is the shared one.
 */
export const MIGRATE_5_TO_6_SQL = `
ALTER TABLE chunks ADD COLUMN payload_hash BLOB;
ALTER TABLE client_chunks ADD COLUMN pack_id INTEGER;
ALTER TABLE client_chunks ADD COLUMN offset INTEGER;
`;

/**
 * Version 6 kept no inode flags: its entries' are unknown (NULL), not none, so that the next backup reads
 * each file again (parent-index.ts) rather than carrying a 0 that an immutable file never had.
 */
export const MIGRATE_6_TO_7_SQL = `
ALTER TABLE entries ADD COLUMN inode_flags INTEGER;
`;

/**
 * What an entry's own metadata takes in the catalog, about: the bytes its client chose (path, link
 * target, owner names, xattrs, extents). The fixed fields, a few dozen bytes, are left out.
 */
export const ENTRY_METADATA_BYTES_SQL = 'length(path) + length(link_target) + length(CAST(user_name AS BLOB)) '
  + '+ length(CAST(group_name AS BLOB)) + COALESCE(length(xattrs), 0) + COALESCE(length(extents), 0)';

/** Version 7 counted no metadata in a client's usage: each committed backup's is measured once (one pass over the entries). */
export const MIGRATE_7_TO_8_SQL = `
ALTER TABLE backups ADD COLUMN metadata_bytes INTEGER NOT NULL DEFAULT 0;
UPDATE backups SET metadata_bytes = COALESCE((SELECT SUM(${ENTRY_METADATA_BYTES_SQL}) FROM entries WHERE entries.backup_id = backups.id), 0)
  WHERE state = 'committed';
`;

/**
 * After the migrations (the columns exist then): own copies by pack, for garbage collection (with their
 * sizes, so that a pack's live bytes are read from the index alone), and an own copy given up (its row
 * deleted or moved) makes its pack one the next collection looks at, whichever of the many statements
 * that forget a client's chunks gave it up.
 */
export const OWN_COPIES_SQL = `
CREATE INDEX IF NOT EXISTS client_chunks_pack ON client_chunks(pack_id, offset, stored_size) WHERE pack_id IS NOT NULL;
CREATE TRIGGER IF NOT EXISTS client_chunks_own_copy_dropped AFTER DELETE ON client_chunks WHEN OLD.pack_id IS NOT NULL
BEGIN
  INSERT OR IGNORE INTO gc_pending_packs (pack_id) VALUES (OLD.pack_id);
END;
CREATE TRIGGER IF NOT EXISTS client_chunks_own_copy_moved AFTER UPDATE OF pack_id ON client_chunks
  WHEN OLD.pack_id IS NOT NULL AND (NEW.pack_id IS NULL OR NEW.pack_id <> OLD.pack_id)
BEGIN
  INSERT OR IGNORE INTO gc_pending_packs (pack_id) VALUES (OLD.pack_id);
END;
`;
