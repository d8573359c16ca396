// The catalog's SQLite schema and its version; opening an older store migrates it here.
// Every backup is a virtual full copy: entries of each backup point at shared contents.

export const SCHEMA_VERSION = 1;

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
  UNIQUE (client_id, number)
);
CREATE TABLE IF NOT EXISTS packs (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  size INTEGER NOT NULL DEFAULT 0,
  is_sealed INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
  id INTEGER PRIMARY KEY,
  hash BLOB NOT NULL UNIQUE,
  pack_id INTEGER NOT NULL REFERENCES packs(id),
  offset INTEGER NOT NULL,
  stored_size INTEGER NOT NULL,
  raw_size INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_pack ON chunks(pack_id);
CREATE TABLE IF NOT EXISTS contents (
  id INTEGER PRIMARY KEY,
  hash BLOB NOT NULL,
  size INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS contents_hash ON contents(hash, size);
CREATE TABLE IF NOT EXISTS content_chunks (
  content_id INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  chunk_id INTEGER NOT NULL,
  PRIMARY KEY (content_id, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS content_chunks_chunk ON content_chunks(chunk_id);
CREATE TABLE IF NOT EXISTS entries (
  backup_id INTEGER NOT NULL,
  path TEXT NOT NULL,
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
  link_target TEXT NOT NULL DEFAULT '',
  content_id INTEGER,
  PRIMARY KEY (backup_id, path)
) WITHOUT ROWID;
-- No index on entries(content_id): it cost 40 % of a backup's catalog rows on disk and one more
-- B-tree insert per entry, and its readers (GC, check) scan every entry anyway.
DROP INDEX IF EXISTS entries_content;
`;
