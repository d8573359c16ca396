// Proves against a real MariaDB that what a mariadb source cannot hold faithfully fails the dump,
// named, instead of passing: a table or column name with a newline (its rows split data.sql's lines,
// so the dump could never load), a system-versioned table and a sequence (left out unseen before, and
// recreated empty or at their start value by a restore).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { storageConfigFromText, type StorageConfig } from '../src/client/sources/storage-config';
import { mariadbSkipReason, withMariadbServer, type MariadbServer } from './support/mariadb';
import { assertDumpRefused, dumpToFiles } from './support/dump-to-files';

const skip = mariadbSkipReason();
if (skip !== undefined) console.log(`dump-mariadb-omissions skipped: ${skip}`);

const withMariadb = (run: (server: MariadbServer, folder: string) => Promise<void>): Promise<void> => withMariadbServer('cpsbackup-maria-omissions-', run);

function sourceConfig(server: MariadbServer, lines: readonly string[] = []): StorageConfig {
  return storageConfigFromText('storage.conf', ['source = shop', 'kind = mariadb', 'database = shop', `socket = ${server.socket}`, 'user = root', ...lines].join('\n'));
}

const assertRefused = (config: StorageConfig, work: string, message: RegExp): Promise<void> => assertDumpRefused(config, work, 'shop', message);

test('a table or column whose name holds a newline fails the dump, named; tables = can leave the table out', { skip }, async () => {
  await withMariadb(async (server, folder) => {
    await server.query('', 'CREATE DATABASE shop');
    await server.query('shop', "CREATE TABLE `a\nb` (id INT PRIMARY KEY, body TEXT); INSERT INTO `a\nb` VALUES (1, 'one row');"
      + ' CREATE TABLE plain (id INT PRIMARY KEY, `x\ny` TEXT); CREATE TABLE kept (id INT PRIMARY KEY);');
    const work = join(folder, 'work');
    await assertRefused(sourceConfig(server), work, /table "a\\x0ab" has a control character \(a newline\?\)/);
    await assertRefused(sourceConfig(server, ['tables = plain']), work, /column "x\\x0ay" of table "plain" has a control character/);
    const restored = await dumpToFiles(sourceConfig(server, ['tables = kept']), work, join(folder, 'restore'));
    assert.equal(restored.length, 3, 'the other tables still dump (tables =: no routines.jsonl)');
  });
});

test('a system-versioned table and a sequence fail the dump, named, unless excluded', { skip }, async () => {
  await withMariadb(async (server, folder) => {
    await server.query('', 'CREATE DATABASE shop');
    await server.query('shop', 'CREATE TABLE prices (id INT PRIMARY KEY, amount INT) WITH SYSTEM VERSIONING; INSERT INTO prices VALUES (1, 10);'
      + ' CREATE SEQUENCE ticket_numbers START WITH 100; SELECT NEXTVAL(ticket_numbers); CREATE TABLE kept (id INT PRIMARY KEY);');
    const work = join(folder, 'work');
    await assertRefused(sourceConfig(server), work, /table prices is system-versioned: its content is not dumped/);
    await assertRefused(sourceConfig(server, ['exclude_tables = prices']), work, /table ticket_numbers is a sequence: its content is not dumped/);
    await assertRefused(sourceConfig(server, ['tables = kept, ticket_numbers']), work, /storage\.conf:6: table ticket_numbers is a sequence/);
    const restored = await dumpToFiles(sourceConfig(server, ['exclude_tables = prices, ticket_numbers']), work, join(folder, 'restore'));
    assert.equal(restored.length, 4, 'excluded, they no longer stop the dump (routines.jsonl the fourth)');
  });
});
