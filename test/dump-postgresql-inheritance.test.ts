// Regression (found by review): a parent table of INHERITS children was read without ONLY, so its
// section of data.sql held every child's rows as well (the children are ordinary tables, dumped in
// their own sections): a load gave them twice. Loads emptied the parent with TRUNCATE and DELETE
// without ONLY, which reached the children's rows too. Proves against a real PostgreSQL that complete
// and partial dumps of such tables load back as they are, and that a load of the parent alone
// (tables = item) leaves the children's rows alone; and that a load into a database where such a table
// is partitioned (ONLY reaches none of its rows) empties and deletes from its partitions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadRestoredDumps } from '../src/client/sources/loaders';
import { PartialBase } from '../src/client/sources/partial-base';
import type { StorageConfig } from '../src/client/sources/storage-config';
import { postgresSkipReason, withPostgresServer, type PostgresServer } from './support/postgres';
import { shopSourceConfig } from './support/postgres-source';
import { dumpToFiles } from './support/dump-to-files';

const skip = postgresSkipReason();
if (skip !== undefined) console.log(`dump-postgresql-inheritance skipped: ${skip}`);

const withPostgres = (run: (server: PostgresServer, folder: string) => Promise<void>): Promise<void> => withPostgresServer('cpsbackup-pg-inherits-', run);

const sourceConfig = (server: PostgresServer, lines: readonly string[] = []): StorageConfig => shopSourceConfig(server, lines);

const loadInto = (database: string, partial = false): { loadInto: { database: string; bySource: Map<string, string> }; partial: boolean } =>
  ({ loadInto: { database, bySource: new Map() }, partial });

/** A table's own rows (ONLY), as text in key order. */
const rowsOf = (server: PostgresServer, database: string, table: string): Promise<string> =>
  server.psql(database, `SELECT coalesce(string_agg(format('%s %s', t.id, t.name), ', ' ORDER BY t.id), '-') FROM ONLY ${table} AS t`);

async function assertSameRows(server: PostgresServer, database: string, what: string): Promise<void> {
  for (const table of ['item', 'book']) {
    assert.equal(await rowsOf(server, database, table), await rowsOf(server, 'shop', table), `${what}: ${table} in ${database}`);
  }
}

async function createShop(server: PostgresServer): Promise<void> {
  await server.psql('postgres', 'CREATE DATABASE shop');
  await server.psql('shop', `CREATE TABLE item (id int PRIMARY KEY, name text NOT NULL, updated_at timestamptz NOT NULL DEFAULT clock_timestamp());
    CREATE TABLE book (isbn text) INHERITS (item); ALTER TABLE book ADD PRIMARY KEY (id);
    INSERT INTO item (id, name) VALUES (1, 'pen'); INSERT INTO book (id, name, isbn) VALUES (2, 'novel', '978-0');`);
}

test('INHERITS: complete and partial dumps hold each table\'s own rows once and load back as they are', { skip }, async () => {
  await withPostgres(async (server, folder) => {
    await createShop(server);
    const config = sourceConfig(server, ['since_field = item.updated_at', 'since_field = book.updated_at', 'overlap_seconds = 0']);
    const work = join(folder, 'work');
    const labels: Record<string, string> = {};
    const complete = await dumpToFiles(config, work, join(folder, 'complete'), { labels });
    assert.deepEqual((await loadRestoredDumps(config, complete, loadInto('shop2'))).map((result) => result.error ?? 'ok'), ['ok', 'ok']);
    await assertSameRows(server, 'shop2', 'complete load into an empty database');
    assert.equal(await server.psql('shop2', 'SELECT count(*) FROM item'), '2', 'item with its children: pen and novel, once each');

    // The item mark is item's own newest row, not book's later one.
    await server.psql('shop', `UPDATE item SET name = 'pencil', updated_at = clock_timestamp() WHERE id = 1;
      INSERT INTO book (id, name, isbn) VALUES (3, 'atlas', '978-1');`);
    const partial = await dumpToFiles(config, work, join(folder, 'partial'), { partialSince: new PartialBase(Date.now(), labels) });
    assert.deepEqual((await loadRestoredDumps(config, partial, loadInto('shop2', true))).map((result) => result.error ?? 'ok'), ['ok']);
    await assertSameRows(server, 'shop2', 'partial load');
  });
});

test('INHERITS: loading the parent alone (tables = item), complete over existing tables and partial, leaves the children\'s rows', { skip }, async () => {
  await withPostgres(async (server, folder) => {
    await createShop(server);
    const everything = sourceConfig(server);
    const work = join(folder, 'work');
    const all = await dumpToFiles(everything, work, join(folder, 'all'));
    assert.deepEqual((await loadRestoredDumps(everything, all, loadInto('shop2'))).map((result) => result.error ?? 'ok'), ['ok', 'ok']);

    const parentOnly = sourceConfig(server, ['tables = item']);
    const labels: Record<string, string> = {};
    const complete = await dumpToFiles(parentOnly, work, join(folder, 'complete'), { labels });
    assert.deepEqual((await loadRestoredDumps(parentOnly, complete, loadInto('shop2'))).map((result) => result.error ?? 'ok'), ['ok', 'ok']);
    await assertSameRows(server, 'shop2', 'complete load of item over existing tables');

    // No since_field: item is dumped whole and mirrored, rows missing from it deleted (not book's).
    await server.psql('shop', `UPDATE item SET name = 'pencil' WHERE id = 1`);
    const partial = await dumpToFiles(parentOnly, work, join(folder, 'partial'), { partialSince: new PartialBase(Date.now(), labels) });
    assert.deepEqual((await loadRestoredDumps(parentOnly, partial, loadInto('shop2', true))).map((result) => result.error ?? 'ok'), ['ok']);
    await assertSameRows(server, 'shop2', 'partial load of item');
  });
});

/** The shop's item table, partitioned in a target database (the source's is a plain table). */
const PARTITIONED_ITEM = `CREATE TABLE item (id int PRIMARY KEY, name text NOT NULL, updated_at timestamptz NOT NULL) PARTITION BY RANGE (id);
      CREATE TABLE item_low PARTITION OF item FOR VALUES FROM (0) TO (5); CREATE TABLE item_high PARTITION OF item FOR VALUES FROM (5) TO (1000);`;

// Regression (found by review): ONLY reaches no row of a partitioned table, so a load into a database
// where the dumped table is partitioned was refused, though before ONLY its TRUNCATE and DELETE reached
// the partitions as they should; such a table is now emptied and deleted from without ONLY.
test('a complete and a partial load into a database where a dumped table is partitioned replace its partitions\' rows', { skip }, async () => {
  await withPostgres(async (server, folder) => {
    await createShop(server);
    await server.psql('postgres', 'CREATE DATABASE parted');
    await server.psql('parted', `${PARTITIONED_ITEM}
      INSERT INTO item VALUES (1, 'old pen', now()), (7, 'gone', now());`);
    const parentOnly = sourceConfig(server, ['tables = item']);
    const work = join(folder, 'work');
    const labels: Record<string, string> = {};
    const itemRows = (): Promise<string> => server.psql('parted', `SELECT string_agg(format('%s %s', id, name), ', ' ORDER BY id) FROM item`);
    const complete = await dumpToFiles(parentOnly, work, join(folder, 'complete'), { labels });
    assert.deepEqual((await loadRestoredDumps(parentOnly, complete, loadInto('parted'))).map((result) => result.error ?? 'ok'), ['ok', 'ok']);
    assert.equal(await itemRows(), '1 pen', 'complete: the partitions emptied, the dump\'s rows in');

    // No since_field: item is dumped whole and mirrored, so a row the source lacks is deleted from its partition.
    await server.psql('parted', `INSERT INTO item VALUES (8, 'stray', now())`);
    await server.psql('shop', `UPDATE item SET name = 'pencil' WHERE id = 1; INSERT INTO item (id, name) VALUES (6, 'ink')`);
    const partial = await dumpToFiles(parentOnly, work, join(folder, 'partial'), { partialSince: new PartialBase(Date.now(), labels) });
    assert.deepEqual((await loadRestoredDumps(parentOnly, partial, loadInto('parted', true))).map((result) => result.error ?? 'ok'), ['ok']);
    assert.equal(await itemRows(), '1 pencil, 6 ink', 'partial: updated, inserted, the stray row deleted');
  });
});

// Regression: a load over existing tables turned each enabled trigger off and on again with ALTER TABLE
// without ONLY; on a partitioned table PostgreSQL 15 recurses to every partition's clone, so turning the
// parent's trigger back on also turned on a clone the operator had disabled on one partition.
test('a load over a table partitioned in the target leaves each partition\'s clone of a trigger as it was', { skip }, async () => {
  await withPostgres(async (server, folder) => {
    await createShop(server);
    await server.psql('postgres', 'CREATE DATABASE parted');
    await server.psql('parted', `${PARTITIONED_ITEM}
      CREATE FUNCTION shout() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.name := upper(NEW.name); RETURN NEW; END$$;
      CREATE TRIGGER item_shout BEFORE INSERT ON item FOR EACH ROW EXECUTE FUNCTION shout();
      ALTER TABLE item_high DISABLE TRIGGER item_shout;`);
    const triggers = (): Promise<string> => server.psql('parted', `SELECT string_agg(format('%s %s', c.relname, t.tgenabled), ', ' ORDER BY c.relname)
      FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE t.tgname = 'item_shout'`);
    assert.equal(await triggers(), 'item O, item_high D, item_low O');
    const parentOnly = sourceConfig(server, ['tables = item']);
    const complete = await dumpToFiles(parentOnly, join(folder, 'work'), join(folder, 'complete'));
    assert.deepEqual((await loadRestoredDumps(parentOnly, complete, loadInto('parted'))).map((result) => result.error ?? 'ok'), ['ok', 'ok']);
    assert.equal(await server.psql('parted', 'SELECT string_agg(name, \', \' ORDER BY id) FROM item'), 'pen', 'no trigger fired on the loaded row');
    assert.equal(await triggers(), 'item O, item_high D, item_low O', 'the clone disabled on item_high stays disabled');
  });
});
