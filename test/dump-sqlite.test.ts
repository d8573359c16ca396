// Proves a SQLite source dumps a consistent snapshot while another process keeps writing, in WAL
// and rollback-journal modes, and that a truncated dump is refused with the target untouched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { DumpFailedError } from '../src/common/errors';
import { startDumps } from '../src/client/sources/dump-run';
import { loadRestoredDumps } from '../src/client/sources/loaders';
import { isOnPath } from '../src/client/sources/shell';
import { storageConfigFromText } from '../src/client/sources/storage-config';
import { sqliteWriterScript } from './support/sqlite-writer';
import { dumpToFiles } from './support/dump-to-files';

const skip = isOnPath('sqlite3') ? undefined : 'the sqlite3 command is not installed (run scripts/install-databases.sh)';
if (skip !== undefined) console.log(`dump-sqlite skipped: ${skip}`);
const BATCH_ROWS = 100;

const WRITER_SCRIPT = sqliteWriterScript(BATCH_ROWS, 'written during the dump', 1);

function countsOf(path: string): { entries: number; total: number } {
  const database = new Database(path, { readonly: true, fileMustExist: true });
  try {
    database.pragma('busy_timeout = 60000');
    return database.transaction(() => ({
      entries: (database.prepare('SELECT count(*) AS n FROM entries').get() as { n: number }).n,
      total: (database.prepare('SELECT total FROM counter').get() as { total: number }).total,
    }))();
  } finally {
    database.close();
  }
}


for (const journalMode of ['wal', 'delete']) {
  test(`a SQLite database written to during the dump restores consistent (journal_mode=${journalMode})`, { skip }, async () => {
    const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-dump-sqlite-'));
    const path = join(folder, 'app', 'app.sqlite');
    let writer: ReturnType<typeof spawn> | undefined;
    try {
      await mkdir(dirname(path));
      const database = new Database(path);
      database.pragma(`journal_mode = ${journalMode}`);
      database.exec('CREATE TABLE entries (id INTEGER PRIMARY KEY, payload TEXT NOT NULL); CREATE TABLE counter (total INTEGER NOT NULL); INSERT INTO counter VALUES (0);');
      const insert = database.prepare('INSERT INTO entries (payload) VALUES (?)');
      database.transaction(() => {
        for (let i = 0; i < 2000 * BATCH_ROWS; i++) insert.run(`initial row ${i} ${'x'.repeat(60)}`);
        database.prepare('UPDATE counter SET total = ?').run(2000 * BATCH_ROWS);
      })();
      database.close();
      const script = join(folder, 'writer.js');
      await writeFile(script, WRITER_SCRIPT);
      writer = spawn(process.execPath, [script, require.resolve('better-sqlite3'), path], { stdio: ['ignore', 'pipe', 'inherit'] });
      await once(writer.stdout as NodeJS.ReadableStream, 'data');
      const before = countsOf(path);
      const config = storageConfigFromText('storage.conf', `source = app\nkind = sqlite\npath = ${path}\nversion_command = sqlite3 --version\n`);
      const restored = await dumpToFiles(config, join(folder, 'work'), join(folder, 'restore'));
      const after = countsOf(path);
      writer.kill('SIGKILL');
      await once(writer, 'exit');
      writer = undefined;
      console.log(`journal_mode=${journalMode}: ${before.entries} rows when the dump started, ${after.entries} when it ended, dump ${(await stat(restored[0].path)).size} bytes`);
      assert.ok(after.entries > before.entries, 'the writer kept writing');

      const results = await loadRestoredDumps(config, restored);
      assert.deepEqual(results.map((result) => result.error ?? 'ok'), ['ok']);
      await assert.rejects(stat(restored[0].path), { code: 'ENOENT' });
      const loaded = new Database(path, { readonly: true });
      try {
        assert.equal(loaded.pragma('integrity_check', { simple: true }), 'ok');
      } finally {
        loaded.close();
      }
      const counts = countsOf(path);
      console.log(`journal_mode=${journalMode}: restored ${counts.entries} rows`);
      assert.equal(counts.entries, counts.total, 'rows and counter come from the same moment');
      assert.equal(counts.entries % BATCH_ROWS, 0, 'no transaction is half in the dump');
      assert.ok(counts.entries >= before.entries && counts.entries <= after.entries, `${counts.entries} within [${before.entries}, ${after.entries}]`);
    } finally {
      writer?.kill('SIGKILL');
      if (writer !== undefined) await once(writer, 'exit');
      await rm(folder, { recursive: true, force: true });
    }
  });
}

test('a truncated SQLite dump is refused, its file kept and the target untouched; a missing database fails the dump', { skip }, async () => {
  const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-dump-sqlite-'));
  try {
    const path = join(folder, 'app.sqlite');
    const database = new Database(path);
    database.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes (body) VALUES ('kept');");
    database.close();
    const config = storageConfigFromText('storage.conf', `source = app\nkind = sqlite\npath = ${path}\n`);
    const restored = await dumpToFiles(config, join(folder, 'work'), join(folder, 'restore'));
    const dumpFile = restored[0].path;
    assert.match(await readFile(dumpFile, 'utf8'), /INSERT INTO notes VALUES\(1,'kept'\);/);
    await truncate(dumpFile, (await stat(dumpFile)).size - 12);
    const original = await readFile(path);
    const results = await loadRestoredDumps(config, restored);
    assert.equal(results[0].ok, false);
    assert.match(results[0].error ?? '', /truncated/);
    assert.ok((await stat(dumpFile)).isFile());
    assert.deepEqual(await readFile(path), original);

    const missing = storageConfigFromText('storage.conf', `source = gone\nkind = sqlite\npath = ${join(folder, 'nosuch.sqlite')}\n`);
    await assert.rejects(startDumps(missing, join(folder, 'work')), (error: unknown) => error instanceof DumpFailedError && error.source === 'gone');
    await assert.rejects(stat(join(folder, 'nosuch.sqlite')), { code: 'ENOENT' });
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
});
