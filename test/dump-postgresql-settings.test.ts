// Regression: the dump and load sessions pinned only some of the settings that change COPY text, so a
// database's or role's own (ALTER DATABASE / ALTER ROLE ... SET) leaked into data.sql. IntervalStyle
// sql_standard wrote `-1 -2:03:00`, which the load read back as -1 day +02:03:00 (exit 0); reg* values
// came out unqualified under the default search_path, and the load (search_path '' from schema.sql)
// failed on them (`relation "target" does not exist`). Every such setting is now pinned, as pg_dump pins
// it, in one list for both sides (pg-connection.ts); the test sets several of them against us on both sides.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadRestoredDumps } from '../src/client/sources/loaders';
import { postgresSkipReason, withPostgresServer } from './support/postgres';
import { shopSourceConfig } from './support/postgres-source';
import { dumpToFiles } from './support/dump-to-files';

const skip = postgresSkipReason();
if (skip !== undefined) console.log(`dump-postgresql-settings skipped: ${skip}`);

/** Every row as text under one fixed session, so both databases are read alike. */
const ROWS = `SET IntervalStyle = postgres; SET DateStyle = ISO; SET TimeZone = UTC; SET search_path = ''; SET bytea_output = hex;
  SET xmloption = content; SELECT string_agg(format('%s|%s|%s|%s|%s|%s|%s', id, i, t, x, b, stamp, d), E'\\n' ORDER BY id) FROM public.values_kept;
  SELECT string_agg(format('%s|%s|%s|%s', id, c, ty, p), E'\\n' ORDER BY id) FROM public.refs;`;

test('a database\'s and a role\'s own settings do not change values through a dump and a load into a new database', { skip }, async () => {
  await withPostgresServer('cpsbackup-pg-settings-', async (server, folder) => {
    await server.psql('postgres', 'CREATE DATABASE shop');
    await server.psql('shop', `CREATE TABLE values_kept (id int PRIMARY KEY, i interval, t time with time zone, x xml, b bytea, stamp timestamptz, d date);
      INSERT INTO values_kept VALUES (1, '-1 day -2 hours -3 minutes', '10:00+03', 'text <a>fragment</a>', '\\x00ff', '2024-03-04 05:06:07+02', '2024-01-02'),
        (2, '1 year -2 months 3 days -04:05:06.5', '23:59:59.25-08', '<doc/>', '\\x5c', 'infinity', '2024-12-31'),
        (3, '-00:00:01', NULL, NULL, NULL, '2000-01-01 00:00:00+00', '0044-03-15 BC');
      CREATE TABLE target (id int PRIMARY KEY); CREATE TYPE mood AS ENUM ('calm');
      CREATE FUNCTION add_one(int) RETURNS int LANGUAGE sql AS 'SELECT $1 + 1';
      CREATE TABLE refs (id int PRIMARY KEY, c regclass, ty regtype, p regproc);
      INSERT INTO refs VALUES (1, 'target', 'mood', 'add_one'), (2, 'pg_class', 'integer', 'now');`);
    await server.psql('shop', `ALTER DATABASE shop SET IntervalStyle = 'sql_standard'; ALTER DATABASE shop SET bytea_output = 'escape';
      ALTER DATABASE shop SET search_path = public, pg_catalog; ALTER ROLE postgres IN DATABASE shop SET DateStyle = 'SQL, DMY';
      ALTER ROLE postgres IN DATABASE shop SET TimeZone = 'America/New_York'; ALTER ROLE postgres IN DATABASE shop SET extra_float_digits = 0`);
    // The loading side's own: a role's setting in the database loaded into.
    await server.psql('postgres', 'CREATE DATABASE shop_copy');
    await server.psql('postgres', `ALTER ROLE postgres IN DATABASE shop_copy SET xmloption = 'document';
      ALTER ROLE postgres IN DATABASE shop_copy SET bytea_output = 'escape'; ALTER DATABASE shop_copy SET search_path = pg_catalog, public`);

    const config = shopSourceConfig(server);
    const restored = await dumpToFiles(config, join(folder, 'work'), join(folder, 'restore'));
    const results = await loadRestoredDumps(config, restored, { loadInto: { database: 'shop_copy', bySource: new Map() } });
    assert.deepEqual(results.map((result) => result.error ?? 'ok'), ['ok', 'ok']);
    const source = await server.psql('shop', ROWS);
    assert.match(source, /^1\|-1 days -02:03:00\|/m, 'the source holds the negative interval');
    assert.match(source, /^1\|public\.target\|public\.mood\|public\.add_one$/m);
    assert.equal(await server.psql('shop_copy', ROWS), source, 'every value as it was');
  });
});

// Regression (review of the fix above): the load session had search_path '' too, so a load over existing
// tables (in place, a partial, a receiver), which runs no schema.sql, failed on a CHECK whose function
// names a table unqualified (`relation "codes" does not exist`), where it had loaded before. The load keeps
// the database's own search_path; schema.sql still sets '' where it runs.
test('a load over existing tables keeps the database\'s search_path for the functions its CHECKs and DEFAULTs call', { skip }, async () => {
  await withPostgresServer('cpsbackup-pg-search-path-', async (server, folder) => {
    await server.psql('postgres', 'CREATE DATABASE shop');
    await server.psql('shop', `CREATE TABLE codes (x int PRIMARY KEY); INSERT INTO codes VALUES (1), (2);
      CREATE FUNCTION okcode(v int) RETURNS boolean LANGUAGE plpgsql AS $$BEGIN RETURN EXISTS (SELECT 1 FROM codes WHERE x = v); END$$;
      CREATE TABLE t (id int PRIMARY KEY, c int CHECK (okcode(c))); INSERT INTO t VALUES (1, 1), (2, 2);`);
    const config = shopSourceConfig(server);
    const restored = await dumpToFiles(config, join(folder, 'work'), join(folder, 'restore'));
    await server.psql('shop', 'DELETE FROM t WHERE id = 2');
    const results = await loadRestoredDumps(config, restored, {});
    assert.deepEqual(results.map((result) => result.error ?? 'ok'), ['ok', 'ok']);
    assert.equal(await server.psql('shop', 'SELECT string_agg(id || \':\' || c, \',\' ORDER BY id) FROM t'), '1:1,2:2');
  });
});
