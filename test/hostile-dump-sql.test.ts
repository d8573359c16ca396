// A restored data.sql is the sender's words in a receive: its header fields and its MariaDB row tuples
// reach the SQL the loader writes. Real dumps from real servers, edited as a hostile node would write
// them; each test proves neither a command on this host nor SQL of the dump's own ran.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadRestoredDumps, type LoadResult, type RestoredDump } from '../src/client/sources/loaders';
import { storageConfigFromText, type StorageConfig } from '../src/client/sources/storage-config';
import { POSTGRES_BIN, postgresSkipReason, startPostgres } from './support/postgres';
import { mariadbSkipReason, startMariadb, type MariadbServer } from './support/mariadb';
import { dumpToFiles } from './support/dump-to-files';
import { exists, withTempFolder } from './support/temp-folder';

const withFolder = (run: (folder: string) => Promise<void>): Promise<void> => withTempFolder('cpsbackup-hostile-header-', run);

/** Rewrites the first line of the restored data.sql (its JSON header) with `edit`. */
async function editHeader(restored: readonly RestoredDump[], edit: (header: Record<string, unknown>) => void): Promise<void> {
  const dump = restored.find((candidate) => candidate.path.endsWith('/data.sql'));
  assert.ok(dump, 'no data.sql restored');
  const text = await readFile(dump.path, 'utf8');
  const newline = text.indexOf('\n');
  const prefix = '-- cpsbackup-data ';
  const header = JSON.parse(text.slice(prefix.length, newline)) as Record<string, unknown>;
  edit(header);
  await writeFile(dump.path, `${prefix}${JSON.stringify(header)}${text.slice(newline)}`);
}

/** Rewrites the restored data.sql's text with `edit`. */
async function editData(restored: readonly RestoredDump[], edit: (text: string) => string): Promise<void> {
  const dump = restored.find((candidate) => candidate.path.endsWith('/data.sql'));
  assert.ok(dump, 'no data.sql restored');
  const text = await readFile(dump.path, 'latin1');
  const edited = edit(text);
  assert.notEqual(edited, text, 'the edit changed nothing');
  await writeFile(dump.path, edited, 'latin1');
}

function load(config: StorageConfig, restored: readonly RestoredDump[], database: string): Promise<LoadResult[]> {
  return loadRestoredDumps(config, restored, { loadInto: { database, bySource: new Map() } });
}

async function withMariadbDump(folder: string, run: (server: MariadbServer, config: StorageConfig, restored: RestoredDump[]) => Promise<void>): Promise<void> {
  const server = await startMariadb();
  try {
    await server.query('mysql', 'CREATE DATABASE shop; CREATE DATABASE victim; USE shop; '
      + "CREATE TABLE notes (id INT PRIMARY KEY, body TEXT); INSERT INTO notes VALUES (1, 'one');");
    const config = storageConfigFromText('storage.conf', ['source = shop', 'kind = mariadb', 'database = shop', 'user = root',
      `socket = ${server.socket}`].join('\n'));
    await run(server, config, await dumpToFiles(config, join(folder, 'work'), join(folder, 'restore')));
  } finally {
    await server.stop();
  }
}

const databases = async (server: MariadbServer): Promise<string[]> => (await server.query('mysql', 'SHOW DATABASES')).split('\n');

// Regression: CREATE DATABASE took the dump's charset and collation unquoted, through a client without
// --sandbox; a load into a new database ran `\! cmd` on this host, or any SQL of the sender's.
test('mariadb: a charset or collation holding a client command or SQL neither runs nor creates the database', { skip: mariadbSkipReason() }, async () => {
  await withFolder(async (folder) => {
    await withMariadbDump(folder, async (server, config, restored) => {
      const marker = join(folder, 'pwned-by-charset');
      const spellings: Array<[string, string]> = [
        ['charset', `utf8mb4;\n\\! touch ${marker}\nSELECT 1`],
        ['charset', 'utf8mb4; DROP DATABASE victim; SELECT 1'],
        ['collation', `utf8mb4_bin;\nsystem touch ${marker}\nSELECT 1`],
        ['collation', 'utf8mb4_bin; DROP DATABASE victim; SELECT 1'],
      ];
      for (const [field, value] of spellings) {
        await editHeader(restored, (header) => {
          header.charset = 'utf8mb4';
          header.collation = 'utf8mb4_bin';
          header[field] = value;
        });
        const results = await load(config, restored, 'shop_copy');
        assert.equal(await exists(marker), false, `${field} ${JSON.stringify(value)} ran a command on this host`);
        assert.ok((await databases(server)).includes('victim'), `${field} ${JSON.stringify(value)} ran the dump's SQL`);
        assert.ok(!(await databases(server)).includes('shop_copy'), 'the database was created');
        const failed = results.find((result) => !result.ok);
        assert.match(failed?.error ?? '', new RegExp(`data\\.sql:1: not loaded: ${field} .* is not a character set name`));
      }
    });
  });
});

// Regression: the load's metadata queries ran under the server's global sql_mode; with NO_BACKSLASH_ESCAPES,
// quoteLiteral's \' ended the literal and a table name from the dump header ran as SQL.
test('mariadb: table names in the header stay literals under a global NO_BACKSLASH_ESCAPES', { skip: mariadbSkipReason() }, async () => {
  await withFolder(async (folder) => {
    await withMariadbDump(folder, async (server, config, restored) => {
      await editHeader(restored, (header) => {
        (header.tables as unknown[]).push({ table: "'); DROP DATABASE victim; -- ", excludedColumns: [] });
      });
      await server.query('mysql', "CREATE DATABASE shop_copy; SET GLOBAL sql_mode = 'NO_BACKSLASH_ESCAPES'");
      await load(config, restored, 'shop_copy');
      assert.ok((await databases(server)).includes('victim'), 'a table name from the dump ran as SQL');
    });
  });
});

// Regression: psql queries quoted table names by doubling quotes only, right with standard_conforming_strings
// on; a server (or role) with it off took a backslash for an escape, and the next name ran as SQL.
test('postgresql: table names in the header stay literals with standard_conforming_strings off', { skip: postgresSkipReason() }, async () => {
  await withFolder(async (folder) => {
    const server = await startPostgres();
    try {
      await server.psql('postgres', 'CREATE DATABASE shop');
      await server.psql('postgres', 'CREATE DATABASE shop_copy');
      await server.psql('shop', "CREATE TABLE notes (id int PRIMARY KEY, body text); INSERT INTO notes VALUES (1, 'one');");
      await server.psql('shop_copy', 'CREATE TABLE victim (id int)');
      const config = storageConfigFromText('storage.conf', ['source = shop', 'kind = postgresql', 'database = shop', 'user = postgres',
        `socket = ${server.socketDirectory}`, `port = ${server.port}`, `bin_dir = ${POSTGRES_BIN}`].join('\n'));
      const restored = await dumpToFiles(config, join(folder, 'work'), join(folder, 'restore'));
      await editHeader(restored, (header) => {
        (header.tables as unknown[]).push({ table: 'x\\', excludedColumns: [] }, { table: '); DROP TABLE victim; -- ', excludedColumns: [] });
      });
      await server.psql('postgres', 'ALTER ROLE postgres SET standard_conforming_strings = off');
      await load(config, restored, 'shop_copy');
      const victim = await server.psql('shop_copy', "SELECT count(*) FROM pg_class WHERE relname = 'victim'");
      assert.equal(victim.trim(), '1', 'a table name from the dump ran as SQL');
    } finally {
      await server.stop();
    }
  });
});

// Regression: the tuple after a row line's INSERT prefix was spliced into the load's INSERT unchecked,
// so a row could end the statement and run the sender's SQL (in the sandboxed client, but with the
// loading role's rights), partial loads into existing databases included.
test('mariadb: a row line holding anything but values is refused, and none of it runs', { skip: mariadbSkipReason() }, async () => {
  await withFolder(async (folder) => {
    await withMariadbDump(folder, async (server, config, restored) => {
      const original = await readFile(restored.find((dump) => dump.path.endsWith('/data.sql'))?.path ?? '', 'latin1');
      const tuples = [
        "(1,'one'); DROP DATABASE victim; SELECT (1,'x')",
        "(1,'one');\nDROP DATABASE victim;\nSELECT (1,'x')",
        "(1,'one'),(2,'two'); DROP DATABASE victim; SELECT (1,'x')",
        "(1,'one\\\\'); DROP DATABASE victim; -- ')",
        "(1,'one'/*'*/); DROP DATABASE victim; SELECT ('x')",
        "(1,(SELECT GROUP_CONCAT(SCHEMA_NAME) FROM information_schema.SCHEMATA))",
        "(1,CONCAT('o','ne'))",
        "(1,0x6f6e65)",
        "(1,'one' 'two')",
        "(1,'one',3)",
      ];
      for (const tuple of tuples) {
        await writeFile(restored.find((dump) => dump.path.endsWith('/data.sql'))?.path ?? '', original, 'latin1');
        // The row as dumped: quoted, or (a latin1 table, 68f6668) as _latin1 X'hex'.
        await editData(restored, (text) => text.replace(/VALUES \(1,(?:'one'|_latin1 X'6F6E65')\);/, () => `VALUES ${tuple.replaceAll('\\n', '\n')};`));
        // Into the existing database: its tables stay, no schema.sql runs, only the rows would.
        const results = await loadRestoredDumps(config, restored);
        assert.ok((await databases(server)).includes('victim'), `row ${tuple} ran the dump's SQL`);
        const failed = results.find((result) => result.path.endsWith('/data.sql'));
        assert.equal(failed?.ok, false, `row ${tuple} loaded`);
        assert.match(failed?.error ?? '', /data\.sql:\d+: (not loaded: |unexpected line)/, `row ${tuple}`);
        assert.equal(await server.query('shop', 'SELECT id, body FROM notes'), '1\tone', 'the failed load changed the rows');
      }
    });
  });
});

// Regression (the header check above): an excluded column's definition was spliced into ALTER TABLE as it was.
test('mariadb: an excluded column definition holding SQL is refused before anything loads', { skip: mariadbSkipReason() }, async () => {
  await withFolder(async (folder) => {
    await withMariadbDump(folder, async (server, config, restored) => {
      for (const definition of ['text; DROP DATABASE victim; SELECT 1', 'text, DROP COLUMN id', "text COMMENT 'x'", 'text -- x', "enum('a'); DROP DATABASE victim; SELECT ('b')"]) {
        await editHeader(restored, (header) => {
          (header.tables as Array<{ excludedColumns: unknown[] }>)[0].excludedColumns = [{ name: 'body', isNullable: false, definition }];
        });
        const results = await load(config, restored, 'shop_copy');
        assert.ok((await databases(server)).includes('victim'), `definition ${definition} ran the dump's SQL`);
        assert.ok(!(await databases(server)).includes('shop_copy'), `definition ${definition}: the database was created`);
        assert.match(results.find((result) => !result.ok)?.error ?? '', /data\.sql:1: not loaded: table notes, column body: definition/);
      }
    });
  });
});

// Regression: the PostgreSQL load wrote to the schema the dump's header named, while the check for existing
// tables looked in the source's own: a header naming another schema emptied that schema's tables of the same names.
test('postgresql: a dump naming another schema than the source loads is refused, and that schema is untouched', { skip: postgresSkipReason() }, async () => {
  await withFolder(async (folder) => {
    const server = await startPostgres();
    try {
      await server.psql('postgres', 'CREATE DATABASE shop');
      await server.psql('shop', "CREATE TABLE notes (id int PRIMARY KEY, body text); INSERT INTO notes VALUES (1, 'one');");
      // schema = public: billing is left out by choice (without it the dump is refused, naming billing).
      await server.psql('shop', "CREATE SCHEMA billing; CREATE TABLE billing.notes (id int PRIMARY KEY, body text); INSERT INTO billing.notes VALUES (7, 'kept');");
      const config = storageConfigFromText('storage.conf', ['source = shop', 'kind = postgresql', 'database = shop', 'user = postgres',
        `socket = ${server.socketDirectory}`, `port = ${server.port}`, `bin_dir = ${POSTGRES_BIN}`, 'schema = public'].join('\n'));
      const restored = await dumpToFiles(config, join(folder, 'work'), join(folder, 'restore'));
      await editHeader(restored, (header) => {
        header.schema = 'billing';
      });
      const results = await loadRestoredDumps(config, restored);
      assert.equal((await server.psql('shop', 'SELECT id, body FROM billing.notes')).trim(), '7|kept', 'the other schema\'s table was emptied');
      assert.match(results.find((result) => !result.ok)?.error ?? '', /was dumped from schema "billing", but source shop loads schema "public"/);
    } finally {
      await server.stop();
    }
  });
});
