// Regression (review): a SQLite load run as root left the rebuilt database root's, mode 0644, in the
// application's folder: the application's user could no longer write its own database after a restore.
// Proves the rebuilt database takes the old one's owner, group and mode, or the folder's owner without one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, chown, link, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { loadSqliteDump } from '../src/client/sources/sqlite-loader';
import { isOnPath } from '../src/client/sources/shell';
import { storageConfigFromText, type SqliteSource } from '../src/client/sources/storage-config';

const NOBODY = 65534;
const WWW_DATA = 33;
const DUMP = 'PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\nCREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);\nINSERT INTO notes VALUES(1,\'loaded\');\nCOMMIT;\n';
const skip = !isOnPath('sqlite3') ? 'the sqlite3 command is not installed (run scripts/install-databases.sh)'
  : process.geteuid?.() !== 0 ? 'needs root: only root gives a file another owner' : undefined;
if (skip !== undefined) console.log(`sqlite-load-owner skipped: ${skip}`);

function sqliteSource(path: string): SqliteSource {
  return storageConfigFromText('storage.conf', `source = app\nkind = sqlite\npath = ${path}\n`).sources[0] as SqliteSource;
}

async function ownerAndMode(path: string): Promise<string> {
  const info = await stat(path);
  return `${info.uid}:${info.gid} ${(info.mode & 0o7777).toString(8)}`;
}

test('a database loaded as root keeps the old one\'s owner, group and mode, or takes its folder\'s owner', { skip }, async (t) => {
  const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-sqlite-owner-'));
  t.after(() => rm(folder, { recursive: true, force: true }));
  const app = join(folder, 'app');
  await mkdir(app);
  await chown(app, NOBODY, NOBODY);
  const dump = join(folder, 'dump.sql');

  const path = join(app, 'app.sqlite');
  await writeFile(path, 'the old database');
  await chown(path, NOBODY, WWW_DATA);
  await chmod(path, 0o660);
  await writeFile(dump, DUMP);
  await loadSqliteDump(sqliteSource(path), dump, join(folder, 'loads'));
  assert.equal(await ownerAndMode(path), `${NOBODY}:${WWW_DATA} 660`);
  const loaded = new Database(path, { readonly: true });
  try {
    assert.deepEqual(loaded.prepare('SELECT body FROM notes').all(), [{ body: 'loaded' }]);
  } finally {
    loaded.close();
  }

  // A hard link to another file put at the database's name hands out neither its owner nor its mode.
  const victim = join(folder, 'victim');
  await writeFile(victim, 'someone else\'s');
  await chown(victim, 0, WWW_DATA);
  await chmod(victim, 0o666);
  await rm(path);
  await link(victim, path);
  await writeFile(dump, DUMP);
  await loadSqliteDump(sqliteSource(path), dump, join(folder, 'loads'));
  assert.match(await ownerAndMode(path), new RegExp(`^${NOBODY}:${NOBODY} (?!666)`), 'the folder\'s owner and group, not the linked file\'s');
  assert.equal(await readFile(victim, 'utf8'), 'someone else\'s', 'the linked file is untouched');

  const fresh = join(app, 'fresh.sqlite');
  await loadSqliteDump(sqliteSource(fresh), dump, join(folder, 'loads'));
  assert.match(await ownerAndMode(fresh), new RegExp(`^${NOBODY}:${NOBODY} `), 'no old database: the folder\'s owner and group');
});
