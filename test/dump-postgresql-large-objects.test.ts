// Regression (found by review): the README said large objects fail a postgresql source's plan unless
// excluded, but nothing checked: a table with an `lo` column was dumped as the objects' numbers, the
// backup passed and a restore lost their contents. Proves against a real PostgreSQL that a column of
// type oid or lo (also through an array or a domain) fails the dump, named, unless excluded; that
// large objects no column of the schema refers to fail it too; and that large_objects = ignore says
// the operator knows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ConfigError } from '../src/common/errors';
import { storageConfigFromText, type StorageConfig } from '../src/client/sources/storage-config';
import { POSTGRES_BIN, postgresSkipReason, withPostgresServer, type PostgresServer } from './support/postgres';
import { assertDumpRefused, dumpToFiles } from './support/dump-to-files';

const skip = postgresSkipReason();
if (skip !== undefined) console.log(`dump-postgresql-large-objects skipped: ${skip}`);

const withPostgres = (run: (server: PostgresServer, folder: string) => Promise<void>): Promise<void> => withPostgresServer('cpsbackup-pg-lo-', run);

function sourceConfig(server: PostgresServer, lines: readonly string[] = []): StorageConfig {
  return storageConfigFromText('storage.conf', [
    'source = shop', 'kind = postgresql', 'database = shop', `socket = ${server.socketDirectory}`, `port = ${server.port}`,
    `bin_dir = ${POSTGRES_BIN}`, 'user = postgres', ...lines,
  ].join('\n'));
}

const assertRefused = (config: StorageConfig, work: string, message: RegExp): Promise<void> => assertDumpRefused(config, work, 'shop', message);

test('a column of type lo or oid fails the dump, named, unless excluded or large_objects = ignore', { skip }, async () => {
  await withPostgres(async (server, folder) => {
    await server.psql('postgres', 'CREATE DATABASE shop');
    await server.psql('shop', `CREATE EXTENSION lo; CREATE DOMAIN picture AS lo;
      CREATE TABLE notes (id int PRIMARY KEY, body text); INSERT INTO notes VALUES (1, 'kept');
      CREATE TABLE scans (id int PRIMARY KEY, image lo); INSERT INTO scans VALUES (1, lo_from_bytea(0, 'bytes'));
      CREATE TABLE albums (id int PRIMARY KEY, pages picture[]); CREATE TABLE refs (id int PRIMARY KEY, target oid);`);
    const work = join(folder, 'work');
    await assertRefused(sourceConfig(server, ['tables = notes, scans']), work,
      /storage\.conf:8: column scans\.image is of type lo, which refers to large objects: large objects are not dumped, so a restore would hold their numbers without their contents; add scans\.image to exclude_columns or scans to exclude_tables, set large_objects = ignore/);
    await assertRefused(sourceConfig(server, ['tables = albums']), work, /column albums\.pages is of type picture\[\], which refers to large objects/);
    await assertRefused(sourceConfig(server, ['tables = refs']), work, /column refs\.target is of type oid, which refers to large objects/);

    const dumps = async (lines: readonly string[], name: string): Promise<number> =>
      (await dumpToFiles(sourceConfig(server, lines), work, join(folder, name))).length;
    assert.equal(await dumps(['exclude_columns = scans.image, albums.pages, refs.target'], 'columns'), 2, 'the columns excluded');
    assert.equal(await dumps(['exclude_tables = scans, albums, refs'], 'tables'), 2, 'the tables excluded');
    assert.equal(await dumps(['large_objects = ignore'], 'ignored'), 2, 'the operator knows');
  });
});

test('large objects no column of the schema refers to fail the dump unless large_objects = ignore', { skip }, async () => {
  await withPostgres(async (server, folder) => {
    await server.psql('postgres', 'CREATE DATABASE shop');
    // The application keeps the oid in a bigint: nothing in the catalog says so.
    await server.psql('shop', `CREATE TABLE documents (id int PRIMARY KEY, content_id bigint);
      INSERT INTO documents VALUES (1, lo_from_bytea(0, 'contents')), (2, lo_from_bytea(0, 'more'));`);
    const work = join(folder, 'work');
    await assertRefused(sourceConfig(server), work,
      /storage\.conf:1: database shop holds 2 large objects, which kind = postgresql does not dump, and no column of schema public is of type oid or lo to say which rows refer to them: a restore would lose them; back the database up with a command source \(pg_dump -Fc holds them\), or set large_objects = ignore/);
    assert.equal((await dumpToFiles(sourceConfig(server, ['large_objects = ignore']), work, join(folder, 'ignored'))).length, 2);

    assert.throws(() => sourceConfig(server, ['large_objects = yes']),
      (error: unknown) => error instanceof ConfigError && /large_objects must be "ignore" \(large objects are not backed up\), got "yes"/.test(error.message));
  });
});
