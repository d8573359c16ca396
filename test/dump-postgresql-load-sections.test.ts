// Regression: a complete load into a new database ran the whole schema.sql (triggers, foreign keys,
// constraints) before the rows, and a load over existing tables left their triggers on. So a BEFORE
// INSERT trigger returning NULL dropped rows, one changing NEW changed them, an audit trigger added rows
// (its sequence then set below them), all with exit 0; tables referencing each other, or a NOT VALID
// check over an old row, failed to load; a populated materialized view came back empty. Loads now run
// as pg_restore's: pre-data, rows, post-data (with REFRESH), and over existing tables with their
// triggers off while the rows change (pg-schema-sections.ts, pg-load-triggers.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadRestoredDumps } from '../src/client/sources/loaders';
import { postgresSkipReason, withPostgresServer, type PostgresServer } from './support/postgres';
import { shopSourceConfig } from './support/postgres-source';
import { dumpToFiles } from './support/dump-to-files';

const skip = postgresSkipReason();
if (skip !== undefined) console.log(`dump-postgresql-load-sections skipped: ${skip}`);

const TABLES = ['items', 'audit', 'left_side', 'right_side', 'measures'];

/** Every table's rows and the populated view's, as text in key order. */
async function contents(server: PostgresServer, database: string): Promise<string> {
  const tables = await Promise.all(TABLES.map((table) => server.psql(database, `SELECT '${table}: ' || coalesce(string_agg(t::text, ',' ORDER BY t::text), '') FROM public.${table} t`)));
  return [...tables, await server.psql(database, 'SELECT \'totals: \' || string_agg(t::text, \',\' ORDER BY t::text) FROM public.totals t')].join('\n');
}

const SCHEMA = `
  CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL);
  CREATE TABLE audit (audit_id serial PRIMARY KEY, item int, what text);
  INSERT INTO items VALUES (1, 'kept'), (2, 'skip me'), (3, 'lower case');
  INSERT INTO audit (item, what) VALUES (1, 'made by hand'), (3, 'made by hand');
  -- Added after the rows: in the source they never ran on them.
  CREATE FUNCTION drop_skipped() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.name LIKE 'skip%' THEN RETURN NULL; END IF; RETURN NEW; END $$;
  CREATE FUNCTION shout() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.name := upper(NEW.name); RETURN NEW; END $$;
  CREATE FUNCTION record_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO public.audit (item, what) VALUES (NEW.id, 'inserted'); RETURN NEW; END $$;
  CREATE TRIGGER a_drop BEFORE INSERT ON items FOR EACH ROW EXECUTE FUNCTION drop_skipped();
  CREATE TRIGGER b_shout BEFORE INSERT ON items FOR EACH ROW EXECUTE FUNCTION shout();
  CREATE TRIGGER c_audit AFTER INSERT ON items FOR EACH ROW EXECUTE FUNCTION record_insert();
  CREATE TABLE left_side (id int PRIMARY KEY, right_id int);
  CREATE TABLE right_side (id int PRIMARY KEY, left_id int REFERENCES left_side);
  ALTER TABLE left_side ADD FOREIGN KEY (right_id) REFERENCES right_side;
  INSERT INTO left_side VALUES (1, NULL); INSERT INTO right_side VALUES (10, 1); UPDATE left_side SET right_id = 10;
  CREATE TABLE measures (id int PRIMARY KEY, n int);
  INSERT INTO measures VALUES (1, -5), (2, 7);
  ALTER TABLE measures ADD CONSTRAINT positive CHECK (n > 0) NOT VALID;
  CREATE MATERIALIZED VIEW totals AS SELECT count(*) AS items, max(id) AS last FROM items;
  CREATE MATERIALIZED VIEW never_filled AS SELECT id FROM measures WITH NO DATA;`;

test('a complete load into a new database fires no trigger, loads foreign key cycles and NOT VALID checks, refreshes populated views', { skip }, async () => {
  await withPostgresServer('cpsbackup-pg-sections-', async (server, folder) => {
    await server.psql('postgres', 'CREATE DATABASE shop');
    await server.psql('shop', SCHEMA);
    const source = await contents(server, 'shop');
    assert.match(source, /^items: \(1,kept\),\(2,"skip me"\),\(3,"lower case"\)$/m);
    const config = shopSourceConfig(server);
    const restored = await dumpToFiles(config, join(folder, 'work'), join(folder, 'restore'));
    const results = await loadRestoredDumps(config, restored, { loadInto: { database: 'shop_copy', bySource: new Map() } });
    assert.deepEqual(results.map((result) => result.error ?? 'ok'), ['ok', 'ok']);
    assert.equal(await contents(server, 'shop_copy'), source, 'every row as it was, no audit row added, the view populated');
    assert.equal(await server.psql('shop_copy', `SELECT string_agg(relname || ' ' || relispopulated, ',' ORDER BY relname) FROM pg_class WHERE relkind = 'm'`),
      'never_filled false,totals true', 'a view empty when dumped stays unpopulated');
    assert.equal(await server.psql('shop_copy', `SELECT string_agg(tgname || ' ' || tgenabled::text, ',' ORDER BY tgname) FROM pg_trigger WHERE tgrelid = 'items'::regclass`),
      'a_drop O,b_shout O,c_audit O', 'the triggers are there, after the rows');
    assert.equal(await server.psql('shop_copy', 'SELECT count(*) FROM pg_constraint WHERE conname = \'positive\' AND NOT convalidated'), '1', 'still NOT VALID');
    // The audit sequence is past every audit row: the next insert takes the next number.
    assert.equal(await server.psql('shop_copy', `INSERT INTO audit (item, what) VALUES (9, 'next') RETURNING audit_id`), '3');

    // Over the existing tables (their triggers on; one disabled by the operator): the same rows again,
    // the triggers as they were. A NOT VALID check still applies to rows loaded into its table, as in
    // pg_restore --data-only: dropped here, so the old row loads.
    await server.psql('shop_copy', `DELETE FROM audit WHERE audit_id = 3; ALTER TABLE items DISABLE TRIGGER b_shout;
      ALTER TABLE measures DROP CONSTRAINT positive;`);
    // The first load deleted its files: dumped again.
    const dumpedAgain = await dumpToFiles(config, join(folder, 'work'), join(folder, 'again'));
    const again = await loadRestoredDumps(config, dumpedAgain, { loadInto: { database: 'shop_copy', bySource: new Map() } });
    assert.deepEqual(again.map((result) => result.error ?? 'ok'), ['ok', 'ok']);
    const tablesOnly = (text: string): string => text.split('\n').slice(0, TABLES.length).join('\n');
    assert.equal(tablesOnly(await contents(server, 'shop_copy')), tablesOnly(source), 'over existing tables, no trigger fired either');
    assert.equal(await server.psql('shop_copy', `SELECT string_agg(tgname || ' ' || tgenabled::text, ',' ORDER BY tgname) FROM pg_trigger WHERE tgrelid = 'items'::regclass`),
      'a_drop O,b_shout D,c_audit O', 'each trigger back as it was');
    assert.equal(await server.psql('shop_copy', `INSERT INTO items VALUES (4, 'skip this'), (5, 'new') RETURNING name`), 'new', 'the triggers work again');

    // A role that does not own the tables cannot turn their triggers off: refused, saying what is needed.
    await server.psql('postgres', 'CREATE ROLE loader LOGIN');
    const third = await dumpToFiles(config, join(folder, 'work'), join(folder, 'third'));
    const refused = await loadRestoredDumps(shopSourceConfig(server, [], 'loader'), third, { loadInto: { database: 'shop_copy', bySource: new Map() } });
    assert.match(refused[0].error ?? 'ok', /table public\.items has trigger a_drop, which would fire on every loaded row; .*needs the table's owner: load as its owner or a superuser/);
  });
});

// Regression (review of the fix above): REFRESH MATERIALIZED VIEW ran in the load's one transaction under
// schema.sql's search_path ''; a view whose function names a table unqualified failed it, and the whole
// load rolled back (before REFRESH was dumped, the load worked and the view stayed empty). The view is
// left unpopulated, with a warning, and everything else loads.
test('a materialized view whose refresh fails leaves only itself unpopulated; the load goes through', { skip }, async () => {
  await withPostgresServer('cpsbackup-pg-refresh-', async (server, folder) => {
    await server.psql('postgres', 'CREATE DATABASE shop');
    await server.psql('shop', `CREATE TABLE codes (x int PRIMARY KEY); INSERT INTO codes VALUES (1), (2), (3);
      CREATE FUNCTION total() RETURNS bigint LANGUAGE sql STABLE AS 'SELECT count(*) FROM codes';
      CREATE MATERIALIZED VIEW mv AS SELECT total() AS n;`);
    const config = shopSourceConfig(server);
    const restored = await dumpToFiles(config, join(folder, 'work'), join(folder, 'restore'));
    await server.psql('postgres', 'CREATE DATABASE shop_copy');
    const results = await loadRestoredDumps(config, restored, { loadInto: { database: 'shop_copy', bySource: new Map() } });
    assert.deepEqual(results.map((result) => result.error ?? 'ok'), ['ok', 'ok']);
    // The warning reaches the load's result (it was lost with psql's stderr on success).
    assert.deepEqual(results.flatMap((result) => result.warnings ?? []).map((warning) => warning.replace(/: .*/, ': …')),
      ['materialized view public.mv left unpopulated: …']);
    assert.equal(await server.psql('shop_copy', 'SELECT string_agg(x::text, \',\' ORDER BY x) FROM public.codes'), '1,2,3');
    assert.equal(await server.psql('shop_copy', 'SELECT ispopulated FROM pg_matviews WHERE matviewname = \'mv\''), 'f');
  });
});
