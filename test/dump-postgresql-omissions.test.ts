// Proves against a real PostgreSQL that what a postgresql source cannot hold faithfully fails the dump
// instead of passing: a table or column name with a newline (it split data.sql's lines, and a garbage
// row was loaded with exit 0); and that a sequence no column owns (DEFAULT nextval('x') without OWNED
// BY, or one only the application reads) keeps its value through a load into an empty database.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadRestoredDumps } from '../src/client/sources/loaders';
import type { StorageConfig } from '../src/client/sources/storage-config';
import { postgresSkipReason, withPostgresServer, type PostgresServer } from './support/postgres';
import { shopSourceConfig } from './support/postgres-source';
import { assertDumpRefused, dumpToFiles } from './support/dump-to-files';

const skip = postgresSkipReason();
if (skip !== undefined) console.log(`dump-postgresql-omissions skipped: ${skip}`);

const withPostgres = (run: (server: PostgresServer, folder: string) => Promise<void>): Promise<void> => withPostgresServer('cpsbackup-pg-omissions-', run);

const sourceConfig = (server: PostgresServer, lines: readonly string[] = []): StorageConfig => shopSourceConfig(server, lines);

const assertRefused = (config: StorageConfig, work: string, message: RegExp): Promise<void> => assertDumpRefused(config, work, 'shop', message);

test('a table or column whose name holds a newline fails the dump, named; tables = can leave the table out', { skip }, async () => {
  await withPostgres(async (server, folder) => {
    await server.psql('postgres', 'CREATE DATABASE shop');
    await server.psql('shop', `CREATE TABLE "a\nb" (body text); INSERT INTO "a\nb" VALUES ('one row');
      CREATE TABLE plain (id int PRIMARY KEY, "x\ny" text); CREATE TABLE kept (id int PRIMARY KEY);`);
    const work = join(folder, 'work');
    await assertRefused(sourceConfig(server), work, /table "a\\x0ab" has a control character \(a newline\?\)/);
    await assertRefused(sourceConfig(server, ['tables = plain']), work, /column "x\\x0ay" of table "plain" has a control character/);
    const restored = await dumpToFiles(sourceConfig(server, ['tables = kept']), work, join(folder, 'restore'));
    assert.equal(restored.length, 2, 'the other tables still dump');
  });
});

test('sequences no column owns keep their value through a load into an empty database', { skip }, async () => {
  await withPostgres(async (server, folder) => {
    await server.psql('postgres', 'CREATE DATABASE shop');
    await server.psql('shop', `CREATE SEQUENCE ticket_numbers START 100;
      CREATE TABLE tickets (id bigint PRIMARY KEY DEFAULT nextval('ticket_numbers'), note text);
      INSERT INTO tickets (note) SELECT 'ticket ' || n FROM generate_series(1, 5) AS n;
      CREATE SEQUENCE invoice_numbers; SELECT nextval('invoice_numbers') FROM generate_series(1, 3);`);
    const config = sourceConfig(server);
    const restored = await dumpToFiles(config, join(folder, 'work'), join(folder, 'restore'));
    const results = await loadRestoredDumps(config, restored, { loadInto: { database: 'shop_copy', bySource: new Map() } });
    assert.deepEqual(results.map((result) => result.error ?? 'ok'), ['ok', 'ok']);
    assert.equal(await server.psql('shop_copy', `INSERT INTO tickets (note) VALUES ('new') RETURNING id`), '105', 'the table\'s default sequence continues');
    assert.equal(await server.psql('shop_copy', `SELECT nextval('invoice_numbers')`), '4', 'a sequence only the application reads continues');

    // With tables =, the sequence a chosen table's default reads still comes along.
    const chosen = sourceConfig(server, ['tables = tickets']);
    const again = await dumpToFiles(chosen, join(folder, 'work'), join(folder, 'again'));
    assert.deepEqual((await loadRestoredDumps(chosen, again, { loadInto: { database: 'tickets_only', bySource: new Map() } }))
      .map((result) => result.error ?? 'ok'), ['ok', 'ok']);
    assert.equal(await server.psql('tickets_only', `SELECT nextval('ticket_numbers')`), '105');
  });
});
