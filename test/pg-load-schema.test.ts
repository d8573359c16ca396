// Regression: a PostgreSQL load looked for the existing tables in the loading node's schema (its
// storage.conf) but wrote into the dump's own schema (the one schema.sql names). With the two apart
// (storage.conf changed since, a receiver's) it chose create-or-replace from the wrong tables. Both
// now use the dump's schema, and a dump of another schema than storage.conf names is refused before
// anything is touched (database-loader.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRestoredDumps } from '../src/client/sources/loaders';
import { storageConfigFromText, type StorageConfig } from '../src/client/sources/storage-config';
import { POSTGRES_BIN, postgresSkipReason, startPostgres, type PostgresServer } from './support/postgres';
import { dumpToFiles } from './support/dump-to-files';

const skip = postgresSkipReason();
if (skip !== undefined) console.log(`pg-load-schema skipped: ${skip}`);

function sourceConfig(server: PostgresServer, schema: string): StorageConfig {
  return storageConfigFromText('storage.conf', [
    'source = shop', 'kind = postgresql', 'database = shop', `socket = ${server.socketDirectory}`, `port = ${server.port}`,
    `bin_dir = ${POSTGRES_BIN}`, 'user = postgres', `schema = ${schema}`,
  ].join('\n'));
}

test('a complete load replaces the rows of the tables in the dump\'s schema; a dump of another schema than storage.conf names is refused, untouched', { skip }, async (t) => {
  const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-pg-schema-'));
  t.after(() => rm(folder, { recursive: true, force: true }));
  const server = await startPostgres({});
  t.after(() => server.stop());
  await server.psql('postgres', 'CREATE DATABASE shop');
  await server.psql('shop', `CREATE SCHEMA app; CREATE TABLE app.items (id int PRIMARY KEY, name text);
    INSERT INTO app.items VALUES (1, 'one'), (2, 'two'), (3, 'three');`);
  const dumped = await dumpToFiles(sourceConfig(server, 'app'), join(folder, 'work'), join(folder, 'restore'));

  // The copy already holds app.items (stale rows), and nothing in public.
  await server.psql('postgres', 'CREATE DATABASE copy');
  await server.psql('copy', `CREATE SCHEMA app; CREATE TABLE app.items (id int PRIMARY KEY, name text); INSERT INTO app.items VALUES (9, 'stale');`);
  const refused = await loadRestoredDumps(sourceConfig(server, 'public'), dumped, { loadInto: { database: 'copy', bySource: new Map() } });
  assert.ok(refused.some((result) => /was dumped from schema "app", but source shop loads schema "public"/.test(result.error ?? '')),
    JSON.stringify(refused.map((result) => result.error ?? 'ok')));
  assert.equal(await server.psql('copy', "SELECT string_agg(id || ' ' || name, ',' ORDER BY id) FROM app.items"), '9 stale');
  const results = await loadRestoredDumps(sourceConfig(server, 'app'), dumped, { loadInto: { database: 'copy', bySource: new Map() } });
  assert.deepEqual(results.map((result) => result.error ?? 'ok'), ['ok', 'ok']);
  assert.equal(await server.psql('copy', "SELECT string_agg(id || ' ' || name, ',' ORDER BY id) FROM app.items"), '1 one,2 two,3 three');
});
