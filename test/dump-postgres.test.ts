// Proves a PostgreSQL round trip through FIFO dump sources against a real server: complete
// (pg_dump -Fc → pg_restore) and partial (rows changed since a time → upserts) end identical.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { loadRestoredDumps } from '../src/client/sources/loaders';
import { storageConfigFromText } from '../src/client/sources/storage-config';
import { POSTGRES_BIN, postgresSkipReason, withPostgresServer, type PostgresServer } from './support/postgres';
import { dumpToFiles } from './support/dump-to-files';

const skip = postgresSkipReason();
if (skip !== undefined) console.log(`dump-postgres skipped: ${skip}`);


const withPostgres = (run: (server: PostgresServer, folder: string) => Promise<void>): Promise<void> => withPostgresServer('cpsbackup-dump-pg-', run);

const fingerprint = (server: PostgresServer, table: string): Promise<string> =>
  server.psql('shop', `SELECT count(*) || ' ' || md5(string_agg(t::text, '|' ORDER BY id)) FROM ${table} t`);

test('pg_dump -Fc through a FIFO, then pg_restore after the database is dropped: rows identical', { skip }, async () => {
  await withPostgres(async (server, folder) => {
    await server.psql('postgres', 'CREATE DATABASE shop');
    await server.psql('shop', `
      CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, photo bytea, joined timestamptz);
      INSERT INTO customers SELECT n, 'customer ' || n || ' é€', decode(md5(n::text), 'hex'), '2020-01-01'::timestamptz + n * interval '1 hour'
        FROM generate_series(1, 20000) AS n;
      CREATE TABLE orders (id int PRIMARY KEY, customer int REFERENCES customers, total numeric(12,2));
      INSERT INTO orders SELECT n, 1 + n % 20000, n * 1.25 FROM generate_series(1, 30000) AS n;`);
    const before = [await fingerprint(server, 'customers'), await fingerprint(server, 'orders')];
    const config = storageConfigFromText('storage.conf', [
      'source = shop',
      'kind = command',
      `dump = ${POSTGRES_BIN}/pg_dump ${server.connection} -Fc shop`,
      // --create: the database itself comes back, as after losing the whole server.
      `load = ${POSTGRES_BIN}/pg_restore ${server.connection} --create -d postgres --exit-on-error {file}`,
      `version_command = ${POSTGRES_BIN}/psql ${server.connection} -d shop -XAtc 'SHOW server_version'`,
    ].join('\n'));
    const labels: Record<string, string> = {};
    const restored = await dumpToFiles(config, join(folder, 'work'), join(folder, 'restore'), { labels });
    assert.match(labels['version.shop'], /^15\./);
    assert.ok((await stat(restored[0].path)).size > 100_000);
    await server.psql('postgres', 'DROP DATABASE shop');
    const results = await loadRestoredDumps(config, restored);
    assert.deepEqual(results, [{ sourceName: 'shop', path: restored[0].path, ok: true }]);
    assert.deepEqual([await fingerprint(server, 'customers'), await fingerprint(server, 'orders')], before);
    await assert.rejects(stat(restored[0].path), { code: 'ENOENT' });
  });
});

test('a complete then a partial dump (rows changed since), loaded as upserts, equal the source', { skip }, async () => {
  await withPostgres(async (server, folder) => {
    await server.psql('postgres', 'CREATE DATABASE shop');
    await server.psql('shop', `
      CREATE TABLE items (id int PRIMARY KEY, value text, updated_at timestamptz NOT NULL);
      INSERT INTO items SELECT n, 'v1 ' || n, now() - interval '1 day' FROM generate_series(1, 5000) AS n;`);
    const psql = `${POSTGRES_BIN}/psql ${server.connection} -d shop -X -q -v ON_ERROR_STOP=1`;
    const config = storageConfigFromText('storage.conf', [
      'source = items',
      'kind = command',
      `dump = ${POSTGRES_BIN}/pg_dump ${server.connection} -Fc shop`,
      `load = ${POSTGRES_BIN}/pg_restore ${server.connection} --create -d postgres --exit-on-error`,
      `dump_partial = ${psql} -c "\\copy (SELECT * FROM items WHERE updated_at >= '{since}') TO STDOUT"`,
      `load_partial = ${psql} -c 'CREATE TEMP TABLE stage (LIKE items)' -c '\\copy stage FROM pstdin' ` +
        `-c 'INSERT INTO items SELECT * FROM stage ON CONFLICT (id) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at'`,
    ].join('\n'));
    const complete = await dumpToFiles(config, join(folder, 'work'), join(folder, 'complete'));
    const since = new Date();
    await server.psql('shop', `
      UPDATE items SET value = 'v2 ' || id, updated_at = clock_timestamp() WHERE id % 7 = 0;
      INSERT INTO items SELECT n, 'new ' || n, clock_timestamp() FROM generate_series(5001, 5600) AS n;`);
    const partial = await dumpToFiles(config, join(folder, 'work'), join(folder, 'partial'), { partialSince: since });
    const source = await fingerprint(server, 'items');
    // 714 updated (ids divisible by 7) and 600 inserted rows are what the partial dump must carry.
    assert.equal(await server.psql('shop', `SELECT count(*) FROM items WHERE updated_at >= '${since.toISOString()}'`), '1314');
    await server.psql('postgres', 'DROP DATABASE shop');
    assert.deepEqual((await loadRestoredDumps(config, complete)).map((result) => result.error ?? 'ok'), ['ok']);
    assert.notEqual(await fingerprint(server, 'items'), source);
    assert.deepEqual((await loadRestoredDumps(config, partial, { partial: true })).map((result) => result.error ?? 'ok'), ['ok']);
    assert.equal(await fingerprint(server, 'items'), source);
  });
});
