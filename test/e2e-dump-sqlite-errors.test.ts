// Regression: `sqlite3 .dump` writes a lock or a corrupt page into the dump text and exits 0, and -e
// stored such a dump as a good backup. Proves through the real CLI and server that -e now fails naming
// the source and the error, and lists no backup.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { isOnPath } from '../src/client/sources/shell';
import { Sandbox, type CommandResult } from './support/sandbox';

const skip = isOnPath('sqlite3') ? undefined : 'the sqlite3 command is not installed (run scripts/install-databases.sh)';
if (skip !== undefined) console.log(`e2e-dump-sqlite-errors skipped: ${skip}`);
const ROWS = 3000;
const PAGE_BYTES = 1024;

/** A node using one sqlite source on `databasePath` with a short timeout (so a short busy wait). */
async function withSqliteNode(run: (cli: (...args: string[]) => Promise<CommandResult>, databasePath: string) => Promise<void>): Promise<void> {
  const sandbox = await Sandbox.create();
  try {
    await sandbox.startServer();
    const databasePath = join(sandbox.root, 'app.sqlite');
    const database = new Database(databasePath);
    database.pragma(`page_size = ${PAGE_BYTES}`);
    database.exec('CREATE TABLE entries (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)');
    const insert = database.prepare('INSERT INTO entries (payload) VALUES (?)');
    database.transaction(() => {
      for (let row = 0; row < ROWS; row++) insert.run(`row ${row} ${'x'.repeat(40)}`);
    })();
    database.close();
    const storage = join(sandbox.root, 'storage.conf');
    // timeout 12: sqlite3 waits at most 3 s for each lock, then writes "database is locked" into the dump.
    await writeFile(storage, ['source = app', 'kind = sqlite', `path = ${databasePath}`, 'timeout = 12', ''].join('\n'));
    const config = await sandbox.writeNodeConfig('node1', [`storage_conf = ${storage}`]);
    await run((...args) => sandbox.runClient(['-c', config, ...args]), databasePath);
  } finally {
    await sandbox.destroy();
  }
}

async function assertFailedUnlisted(cli: (...args: string[]) => Promise<CommandResult>, failed: CommandResult, error: RegExp): Promise<void> {
  assert.notEqual(failed.code, 0, `a dump that recorded errors must fail the backup\nstdout: ${failed.stdout}\nstderr: ${failed.stderr}`);
  assert.match(failed.stderr, /dump source app: .*dump\.sql: dumper exited with code 1/);
  assert.match(failed.stderr, error);
  const listed = await cli('-l', '--json');
  assert.equal(listed.code, 0, listed.stderr);
  assert.deepEqual(JSON.parse(listed.stdout), [], 'no backup listed');
}

test('a SQLite database locked past the busy timeout fails -e with "database is locked"; nothing listed', { skip }, async () => {
  await withSqliteNode(async (cli, databasePath) => {
    // Rollback journal (the default): an exclusive lock keeps readers out, as a long write would.
    const holder = new Database(databasePath);
    try {
      holder.exec('BEGIN EXCLUSIVE');
      const started = Date.now();
      const failed = await cli('-e');
      console.log(`e2e-dump-sqlite-errors: locked -e failed after ${Date.now() - started} ms`);
      await assertFailedUnlisted(cli, failed, /ERROR: \(5\) database is locked/);
      assert.doesNotMatch(failed.stderr, /timed out/, 'the lock is named, not a timeout');
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
    const good = await cli('-e');
    assert.equal(good.code, 0, `once the lock is gone, -e succeeds\n${good.stderr}`);
  });
});

test('a SQLite database with a corrupt page fails -e with a corruption error; nothing listed', { skip }, async () => {
  await withSqliteNode(async (cli, databasePath) => {
    // Page 41 lies among the table's leaf pages: overwriting it loses rows, as a bad sector would.
    const file = await open(databasePath, 'r+');
    try {
      await file.write(Buffer.alloc(PAGE_BYTES, 0xff), 0, PAGE_BYTES, 40 * PAGE_BYTES);
    } finally {
      await file.close();
    }
    await assertFailedUnlisted(cli, await cli('-e'), /CORRUPTION ERROR/);
  });
});

test('a file that is not a SQLite database fails -e; nothing listed', { skip }, async () => {
  await withSqliteNode(async (cli, databasePath) => {
    await writeFile(databasePath, 'not a database, but long enough for sqlite3 to read a header from it\n'.repeat(4));
    await assertFailedUnlisted(cli, await cli('-e'), /file is not a database/);
  });
});
