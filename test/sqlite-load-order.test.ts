// Regression: the SQLite loader deleted the live database's -wal and -journal before renaming the
// rebuilt database over it. A failure (or crash) in between lost committed WAL frames, or left the
// old database without its hot journal. They are moved aside now, and put back if the rename fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { loadSqliteDump } from '../src/client/sources/sqlite-loader';
import { isOnPath } from '../src/client/sources/shell';
import { storageConfigFromText, type SqliteSource } from '../src/client/sources/storage-config';

const skip = isOnPath('sqlite3') ? undefined : 'the sqlite3 command is not installed (run scripts/install-databases.sh)';
const DUMP = 'PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\nCREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);\nINSERT INTO notes VALUES(1,\'loaded\');\nCOMMIT;\n';

function sqliteSource(path: string): SqliteSource {
  return storageConfigFromText('storage.conf', `source = app\nkind = sqlite\npath = ${path}\n`).sources[0] as SqliteSource;
}

test('a load whose final rename fails leaves the live -wal and -journal where they were', { skip }, async (t) => {
  const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-sqlite-order-'));
  t.after(() => rm(folder, { recursive: true, force: true }));
  const dump = join(folder, 'dump.sql');
  await writeFile(dump, DUMP);
  // A folder at the database's name: everything succeeds up to the rename, which fails (EISDIR).
  const path = join(folder, 'app.sqlite');
  await mkdir(join(path, 'in-the-way'), { recursive: true });
  await writeFile(`${path}-wal`, 'committed frames not yet checkpointed');
  await writeFile(`${path}-journal`, 'hot journal');
  await assert.rejects(loadSqliteDump(sqliteSource(path), dump));
  assert.equal(await readFile(`${path}-wal`, 'utf8'), 'committed frames not yet checkpointed');
  assert.equal(await readFile(`${path}-journal`, 'utf8'), 'hot journal');
  assert.deepEqual((await readdir(folder)).sort(), ['app.sqlite', 'app.sqlite-journal', 'app.sqlite-wal', 'dump.sql'], 'nothing left aside or half-built');
});

test('a load replaces the database and then removes the old -wal and -shm', { skip }, async (t) => {
  const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-sqlite-order-'));
  t.after(() => rm(folder, { recursive: true, force: true }));
  const dump = join(folder, 'dump.sql');
  await writeFile(dump, DUMP);
  const path = join(folder, 'app.sqlite');
  const old = new Database(path);
  old.exec('CREATE TABLE old (x)');
  old.close();
  await writeFile(`${path}-wal`, 'an old database\'s frames');
  await writeFile(`${path}-shm`, 'an old index');
  await loadSqliteDump(sqliteSource(path), dump);
  assert.deepEqual((await readdir(folder)).sort(), ['app.sqlite', 'dump.sql']);
  const loaded = new Database(path, { readonly: true });
  t.after(() => loaded.close());
  assert.deepEqual(loaded.prepare('SELECT body FROM notes').all(), [{ body: 'loaded' }]);
});
