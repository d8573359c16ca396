// Regression (red team, real PostgreSQL 15): a kind = postgresql source without `schema =` dumped schema
// public alone, so database shop's app.orders was in neither schema.sql nor data.sql and the backup passed
// (exit 0, nothing on stderr). Such a source now fails naming the schemas it would leave out and the fix;
// `schema = public` (the operator's choice) and `tables =` still dump, and schemas or objects that belong
// to an extension (recreated by CREATE EXTENSION, never dumped) do not count.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadRestoredDumps, type RestoredDump } from '../src/client/sources/loaders';
import { postgresSkipReason, withPostgresServer, type PostgresServer } from './support/postgres';
import { shopSourceConfig } from './support/postgres-source';
import { assertDumpRefused, dumpToFiles } from './support/dump-to-files';
import { schemasLeftOutRefusal } from '../src/client/sources/postgresql/pg-schemas-left-out';

const skip = postgresSkipReason();
if (skip !== undefined) console.log(`dump-postgresql-schemas skipped: ${skip}`);

const withPostgres = (run: (server: PostgresServer, folder: string) => Promise<void>): Promise<void> => withPostgresServer('cpsbackup-pg-schemas-', run);

/** The repro's database: customers in public, three orders in app. */
const SHOP = `CREATE TABLE customers (id int PRIMARY KEY, name text); INSERT INTO customers VALUES (1, 'ada');
  CREATE SCHEMA app; CREATE TABLE app.orders (id int PRIMARY KEY, customer int REFERENCES public.customers, total numeric);
  INSERT INTO app.orders VALUES (1, 1, 10), (2, 1, 20), (3, 1, 30);`;

async function dataOf(restored: readonly RestoredDump[]): Promise<string> {
  const data = restored.find((dump) => dump.path.endsWith('data.sql'));
  assert.ok(data !== undefined, JSON.stringify(restored));
  return readFile(data.path, 'utf8');
}

test('a source without schema = fails naming the schemas it would leave out; schema = public and tables = still dump', { skip }, async () => {
  await withPostgres(async (server, folder) => {
    await server.psql('postgres', 'CREATE DATABASE shop');
    await server.psql('shop', SHOP);
    const work = join(folder, 'work');
    await assertDumpRefused(shopSourceConfig(server), work, 'shop',
      /^dump source shop: storage\.conf:1: database shop holds schema app \(table app\.orders\) besides public, and a source without "schema =" dumps schema public alone: it would be missing from the backup\. Back up each schema with a source of its own \(schema = app\), and set schema = public here to dump public alone$/);

    // Partials read the same catalog, and are refused alike.
    await assert.rejects(dumpToFiles(shopSourceConfig(server, ['since_field = customers.id']), work, join(folder, 'partial'),
      { partialSince: new Date() }), /database shop holds schema app/);

    // Not tables only: any object a load of public may need (a type, a function, a view, a sequence).
    await server.psql('shop', `CREATE SCHEMA kinds; CREATE TYPE kinds.mood AS ENUM ('ok'); CREATE SCHEMA code;
      CREATE FUNCTION code.double(int) RETURNS int LANGUAGE sql AS 'SELECT $1 * 2'; CREATE SCHEMA reports;
      CREATE VIEW reports.names AS SELECT name FROM public.customers; CREATE SCHEMA counters; CREATE SEQUENCE counters.tickets;
      CREATE SCHEMA empty;`);
    await assertDumpRefused(shopSourceConfig(server), work, 'shop', new RegExp('holds schemas app \\(table app\\.orders\\), '
      + 'code \\(function code\\.double\\(integer\\)\\), counters \\(sequence counters\\.tickets\\), kinds \\(type kinds\\.mood\\), '
      + 'reports \\(view reports\\.names\\) besides public, .*: they would be missing from the backup\\. .*\\(schema = app\\)'));

    // The operator's choice: public alone, without app's rows.
    const publicOnly = await dumpToFiles(shopSourceConfig(server, ['schema = public']), work, join(folder, 'public'));
    const data = await dataOf(publicOnly);
    assert.match(data, /"customers"/);
    assert.doesNotMatch(data, /orders/);
    // tables = names what is dumped: nothing is left out unseen.
    assert.equal((await dumpToFiles(shopSourceConfig(server, ['tables = customers']), work, join(folder, 'tables'))).length, 2);

    // And the schema the refusal points at dumps and loads its three orders (its foreign key into public kept).
    const app = shopSourceConfig(server, ['schema = app']);
    const restored = await dumpToFiles(app, work, join(folder, 'app'));
    await server.psql('postgres', 'CREATE DATABASE copy');
    await server.psql('copy', 'CREATE TABLE customers (id int PRIMARY KEY, name text); INSERT INTO customers VALUES (1, \'ada\');');
    const results = await loadRestoredDumps(app, restored, { loadInto: { database: 'copy', bySource: new Map() } });
    assert.deepEqual(results.map((result) => result.error ?? 'ok'), ['ok', 'ok']);
    assert.equal(await server.psql('copy', 'SELECT count(*) FROM app.orders'), '3');
  });
});

test('schemas an extension owns, and extension objects in a schema of their own, do not fail a source without schema =', { skip }, async () => {
  await withPostgres(async (server, folder) => {
    await server.psql('postgres', 'CREATE DATABASE shop');
    await server.psql('shop', 'CREATE TABLE customers (id int PRIMARY KEY, name text); INSERT INTO customers VALUES (1, \'ada\');');
    // CREATE EXTENSION ... SCHEMA ext: every object in ext is the extension's (pg_depend deptype 'e').
    await server.psql('shop', 'CREATE SCHEMA ext; CREATE EXTENSION hstore SCHEMA ext;');
    // As PostGIS's topology: a schema and its table the extension's script creates. No contrib extension here
    // creates a schema of its own, so the same catalog rows (deptype 'e' on the schema) are made by ALTER EXTENSION.
    await server.psql('shop', `CREATE EXTENSION lo; CREATE SCHEMA topology; CREATE TABLE topology.topology (id int PRIMARY KEY, name text);
      ALTER EXTENSION lo ADD SCHEMA topology; ALTER EXTENSION lo ADD TABLE topology.topology;`);
    // Review: a plain index an extension's script makes on its table is no member (deptype 'a' on the table).
    await server.psql('shop', 'CREATE INDEX topology_name ON topology.topology (name);');
    const restored = await dumpToFiles(shopSourceConfig(server), join(folder, 'work'), join(folder, 'restore'));
    assert.match(await dataOf(restored), /"customers"/);

    // A table of the user's own beside the extension's, in the schema ext holds: that one counts.
    await server.psql('shop', 'CREATE TABLE ext.settings (name text PRIMARY KEY, value ext.hstore);');
    await assertDumpRefused(shopSourceConfig(server), join(folder, 'work'), 'shop', 
      /holds schema ext \(table ext\.settings\) besides public/);

    // Review: a table of the user's own in a schema the extension owns counts too (the whole schema was passed over).
    await server.psql('shop', 'DROP TABLE ext.settings; CREATE TABLE topology.user_data (id int);');
    await assertDumpRefused(shopSourceConfig(server), join(folder, 'work'), 'shop',
      /holds schema topology \(table topology\.user_data\) besides public/);
  });
});

test('the refusal names a few objects per schema, escapes names, and is nothing without a schema left out', () => {
  assert.equal(schemasLeftOutRefusal('storage.conf:4', 'shop', 'public', []), undefined);
  const refusal = schemasLeftOutRefusal('storage.conf:4', 'shop', 'public', [
    { schema: 'a\nb', objects: ['table "a\nb".t'] },
    { schema: 'big', objects: ['table big.a', 'table big.b', 'table big.c', 'table big.d'] },
  ]);
  assert.equal(refusal, 'storage.conf:4: database shop holds schemas a\\x0ab (table "a\\x0ab".t), big (table big.a, table big.b, table big.c, …) '
    + 'besides public, and a source without "schema =" dumps schema public alone: they would be missing from the backup. '
    + 'Back up each schema with a source of its own (schema = a\\x0ab), and set schema = public here to dump public alone');
});
