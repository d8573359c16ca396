// A restored dump is data, never commands for the loading host. The database clients that load dumps
// obey client commands in their input (psql `\!`, mariadb `system`, sqlite3 `.shell`), so a dump written
// by another node (a receiver loads other clients' backups) or tampered with could run commands here,
// as the restoring user. Real dumps from real servers, then edited as a hostile node would write them;
// each test proves the command did not run (its marker file is absent) and the load failed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { loadRestoredDumps, type RestoredDump } from '../src/client/sources/loaders';
import { storageConfigFromText, type StorageConfig } from '../src/client/sources/storage-config';
import { isOnPath } from '../src/client/sources/shell';
import { POSTGRES_BIN, postgresSkipReason, startPostgres } from './support/postgres';
import { mariadbSkipReason, startMariadb } from './support/mariadb';
import { dumpToFiles } from './support/dump-to-files';
import { exists, withTempFolder } from './support/temp-folder';

const withFolder = (run: (folder: string) => Promise<void>): Promise<void> => withTempFolder('cpsbackup-hostile-dump-', run);

/** The dump file of `name` among the restored ones, edited by `edit`. */
async function tamper(restored: readonly RestoredDump[], name: string, edit: (text: string) => string): Promise<void> {
  const dump = restored.find((candidate) => candidate.path.endsWith(`/${name}`));
  assert.ok(dump, `no ${name} among ${restored.map((candidate) => candidate.path).join(', ')}`);
  const text = await readFile(dump.path, 'latin1');
  const edited = edit(text);
  assert.notEqual(edited, text, `the edit of ${name} changed nothing`);
  await writeFile(dump.path, edited, 'latin1');
}

async function assertNotRun(config: StorageConfig, restored: readonly RestoredDump[], marker: string, database?: string): Promise<void> {
  const results = await loadRestoredDumps(config, restored, database === undefined ? {} : { loadInto: { database, bySource: new Map() } });
  assert.equal(await exists(marker), false, `the dump ran a command on this host: ${marker} exists`);
  assert.ok(results.every((result) => !result.ok), `the hostile dump loaded: ${JSON.stringify(results)}`);
}

const postgresSkip = postgresSkipReason();

async function pgDump(folder: string, run: (config: StorageConfig, restored: RestoredDump[]) => Promise<void>): Promise<void> {
  const server = await startPostgres();
  try {
    await server.psql('postgres', 'CREATE DATABASE shop');
    await server.psql('shop', "CREATE TABLE notes (id int PRIMARY KEY, body text); INSERT INTO notes VALUES (1, 'one'), (2, 'two');");
    const config = storageConfigFromText('storage.conf', ['source = shop', 'kind = postgresql', 'database = shop', 'user = postgres',
      `socket = ${server.socketDirectory}`, `port = ${server.port}`, `bin_dir = ${POSTGRES_BIN}`].join('\n'));
    await run(config, await dumpToFiles(config, join(folder, 'work'), join(folder, 'restore')));
  } finally {
    await server.stop();
  }
}

test('postgresql: a data.sql row ending in CR, then \\. + CR, does not end the COPY into psql commands', { skip: postgresSkip }, async () => {
  await withFolder(async (folder) => {
    const marker = join(folder, 'pwned-by-data');
    await pgDump(folder, async (config, restored) => {
      // psql takes "\.\r" for the end of the data when the rows before it end in \r; the data reader does not.
      await tamper(restored, 'data.sql', (text) => text.replace('1\tone\n', `1\tone\r\n\\.\r\n\\! touch ${marker}\n`));
      await assertNotRun(config, restored, marker, 'shop_copy');
    });
  });
});

test('postgresql: a line feed in a table name does not lift restricted mode around the step marker', { skip: postgresSkip }, async () => {
  await withFolder(async (folder) => {
    const marker = join(folder, 'pwned-by-table-name');
    await pgDump(folder, async (config, restored) => {
      // The step marker's line ends at the line feed; the name's next line opens a dollar quote that swallows
      // the line restoring restricted mode, and the rows close it and give a command to an unrestricted psql.
      await tamper(restored, 'data.sql', (text) => text.replace('-- cpsbackup-table {"table":"notes"',
        `-- cpsbackup-table {"table":${JSON.stringify('notes\nSELECT $q$')}`).replace('1\tone\n', `$q$;\n\\! touch ${marker}\n`));
      await assertNotRun(config, restored, marker, 'shop_copy');
    });
  });
});

test('postgresql: a backslash command in schema.sql, alone or after a statement, is not run', { skip: postgresSkip }, async () => {
  await withFolder(async (folder) => {
    const markers = [join(folder, 'pwned-alone'), join(folder, 'pwned-after')];
    await pgDump(folder, async (config, restored) => {
      // pg_dump's own \restrict guard is the writer's to keep: a hostile one leaves it out.
      await tamper(restored, 'schema.sql', (text) => text.replace(/^\\(un)?restrict .*\n/gm, '').replace(/^CREATE TABLE/m,
        `\\! touch ${markers[0]}\nSELECT 1; \\! touch ${markers[1]}\nCREATE TABLE`));
      await assertNotRun(config, restored, markers[0], 'shop_copy');
      assert.equal(await exists(markers[1]), false);
    });
  });
});

test('mariadb: a client command in schema.sql or triggers.jsonl (system, \\!) is not run', { skip: mariadbSkipReason() }, async () => {
  await withFolder(async (folder) => {
    const markers = [join(folder, 'pwned-system'), join(folder, 'pwned-bang')];
    const server = await startMariadb();
    try {
      await server.query('mysql', "CREATE DATABASE shop; USE shop; CREATE TABLE notes (id INT PRIMARY KEY, body TEXT); INSERT INTO notes VALUES (1, 'one');");
      const config = storageConfigFromText('storage.conf', ['source = shop', 'kind = mariadb', 'database = shop', 'user = root',
        `socket = ${server.socket}`].join('\n'));
      const restored = await dumpToFiles(config, join(folder, 'work'), join(folder, 'restore'));
      await tamper(restored, 'schema.sql', (text) => `system touch ${markers[0]}\n\\! touch ${markers[1]}\n${text}`);
      await assertNotRun(config, restored, markers[0], 'shop_copy');
      assert.equal(await exists(markers[1]), false);
      // triggers.jsonl is data: a line that is no JSON record fails the load before anything runs.
      const again = await dumpToFiles(config, join(folder, 'work'), join(folder, 'again'));
      await tamper(again, 'triggers.jsonl', (text) => `${text}\nsystem touch ${markers[0]}\n\\! touch ${markers[1]}\n`);
      await assertNotRun(config, again, markers[0], 'shop_again');
      assert.equal(await exists(markers[1]), false);
    } finally {
      await server.stop();
    }
  });
});

test('sqlite: a dot-command in the dump (.shell, .system) is not run', { skip: isOnPath('sqlite3') ? false : 'the sqlite3 command is not installed' }, async () => {
  await withFolder(async (folder) => {
    const markers = [join(folder, 'pwned-shell'), join(folder, 'pwned-system')];
    const path = join(folder, 'app.sqlite');
    const database = new Database(path);
    database.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes (body) VALUES ('kept');");
    database.close();
    const config = storageConfigFromText('storage.conf', `source = app\nkind = sqlite\npath = ${path}\n`);
    const restored = await dumpToFiles(config, join(folder, 'work'), join(folder, 'restore'));
    await tamper(restored, 'dump.sql', (text) => text.replace('BEGIN TRANSACTION;\n', `BEGIN TRANSACTION;\n.shell touch ${markers[0]}\n.system touch ${markers[1]}\n`));
    const original = await readFile(path);
    await assertNotRun(config, restored, markers[0]);
    assert.equal(await exists(markers[1]), false);
    assert.deepEqual(await readFile(path), original, 'the database is untouched');
  });
});
