// Regression (security review): the SQLite loader, run as root, removed `.<db>.cpsbackup-load` in the
// database's own folder (writable by the application's user), then handed that path to sqlite3, which
// follows a symlink, then renamed it over the database. A symlink planted in between had root build a
// database wherever it pointed, and left the database itself a symlink to it. sqlite3 now builds in a
// private staging folder no one else may replace, and the result reaches the database's folder through
// held folder fds only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, chown, lstat, mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { lchownSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import Database from 'better-sqlite3';
import { loadSqliteDump } from '../src/client/sources/sqlite-loader';
import { isOnPath } from '../src/client/sources/shell';
import { storageConfigFromText, type SqliteSource } from '../src/client/sources/storage-config';

const skip = isOnPath('sqlite3') ? undefined : 'the sqlite3 command is not installed (run scripts/install-databases.sh)';
const DUMP = 'PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\nCREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);\nINSERT INTO notes VALUES(1,\'loaded\');\nCOMMIT;\n';
const NOBODY = 65534;

function sqliteSource(path: string): SqliteSource {
  return storageConfigFromText('storage.conf', `source = app\nkind = sqlite\npath = ${path}\n`).sources[0] as SqliteSource;
}

function assertLoaded(path: string): void {
  const loaded = new Database(path, { readonly: true, fileMustExist: true });
  try {
    assert.deepEqual(loaded.prepare('SELECT body FROM notes').all(), [{ body: 'loaded' }]);
  } finally {
    loaded.close();
  }
}

test('a symlink planted at the old temporary name just before sqlite3 starts is neither followed nor renamed into place', { skip }, async (t) => {
  const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-sqlite-symlinks-'));
  t.after(() => rm(folder, { recursive: true, force: true }));
  const databaseFolder = join(folder, 'db');
  const outside = join(folder, 'victim');
  const wrappers = join(folder, 'bin');
  await Promise.all([mkdir(databaseFolder), mkdir(outside, { mode: 0o700 }), mkdir(wrappers)]);
  const dump = join(folder, 'dump.sql');
  await writeFile(dump, DUMP);
  const path = join(databaseFolder, 'app.sqlite');
  // The application's user, racing the loader: at every start of sqlite3 (after the loader's rm), a symlink
  // at the name the loader builds under, and at any other name of its making in the database's folder.
  const realSqlite = execFileSync('sh', ['-c', 'command -v sqlite3'], { encoding: 'utf8' }).trim();
  await writeFile(join(wrappers, 'sqlite3'), `#!/bin/sh\n`
    + `for entry in '${databaseFolder}'/.app.sqlite*; do [ -d "$entry" ] && [ ! -L "$entry" ] && mv "$entry" "$entry.moved" && ln -s '${outside}' "$entry"; done\n`
    + `ln -s '${join(outside, 'pwned')}' '${join(databaseFolder, '.app.sqlite.cpsbackup-load')}' 2>/dev/null\n`
    + `exec '${realSqlite}' "$@"\n`, { mode: 0o755 });
  const searchPath = process.env.PATH;
  process.env.PATH = `${wrappers}${delimiter}${searchPath ?? ''}`;
  t.after(() => {
    process.env.PATH = searchPath;
  });

  await loadSqliteDump(sqliteSource(path), dump);

  assert.deepEqual(await readdir(outside), [], 'nothing made or written through the symlink');
  assert.ok((await lstat(path)).isFile(), 'the database is a regular file, not the planted symlink');
  assertLoaded(path);
});

test('a database built on another file system is copied into place, a regular file with the built mode', { skip }, async (t) => {
  const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-sqlite-symlinks-'));
  t.after(() => rm(folder, { recursive: true, force: true }));
  const otherFileSystem = '/dev/shm';
  const isOtherDevice = await stat(otherFileSystem).then((other) => stat(folder).then((here) => other.dev !== here.dev), () => false);
  if (!isOtherDevice) {
    t.skip(`${otherFileSystem} is not another file system here`);
    return;
  }
  const workFolder = await mkdtemp(join(otherFileSystem, 'cpsbackup-sqlite-work-'));
  t.after(() => rm(workFolder, { recursive: true, force: true }));
  const dump = join(folder, 'dump.sql');
  await writeFile(dump, DUMP);
  const path = join(folder, 'app.sqlite');
  await writeFile(path, 'the old database');
  await loadSqliteDump(sqliteSource(path), dump, join(workFolder, 'loads'));
  assert.ok((await lstat(path)).isFile());
  const made = join(folder, 'made-by-sqlite3.sqlite');
  execFileSync('sqlite3', [made, 'CREATE TABLE t (a);']);
  assert.equal((await stat(path)).mode & 0o7777, (await stat(made)).mode & 0o7777, 'the mode sqlite3 gives a database, as before');
  await rm(made);
  assertLoaded(path);
  assert.deepEqual((await readdir(folder)).sort(), ['app.sqlite', 'dump.sql'], 'nothing left beside it');
  assert.deepEqual(await readdir(join(workFolder, 'loads')), [], 'the staging folder is gone');
});

test('a symlink another user could have planted on the way to the database\'s folder is refused, not followed', {
  skip: skip ?? (process.geteuid?.() === 0 ? undefined : 'needs root (a folder and a symlink of another user)'),
}, async (t) => {
  const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-sqlite-symlinks-'));
  t.after(() => rm(folder, { recursive: true, force: true }));
  await chmod(folder, 0o755);
  const application = join(folder, 'app');
  const outside = join(folder, 'victim');
  await Promise.all([mkdir(application), mkdir(outside, { mode: 0o700 })]);
  await chown(application, NOBODY, NOBODY);
  // The application's user swapped its database folder for a symlink to a root-only folder.
  await symlink(outside, join(application, 'db'));
  lchownSync(join(application, 'db'), NOBODY, NOBODY);
  const dump = join(folder, 'dump.sql');
  await writeFile(dump, DUMP);
  await assert.rejects(loadSqliteDump(sqliteSource(join(application, 'db', 'app.sqlite')), dump), /not followed/);
  assert.deepEqual(await readdir(outside), [], 'nothing made in the folder the symlink points to');
});
