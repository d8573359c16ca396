// A complete dump loaded over the database it came from must not empty the columns it left out
// (exclude_columns): it replaced every row, and a restore wiped every password hash with exit 0. The
// rows come back as they were dumped, rows made since go, rows deleted since come back (their
// left-out columns NULL), and every other row keeps its left-out columns' values. A table with such
// a column and no primary key cannot be matched row by row: its load is refused, nothing changed; so is
// a load whose deletes a foreign key from outside the dump would carry on (ON DELETE CASCADE).
// Against a real PostgreSQL and a real MariaDB started here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadRestoredDumps } from '../src/client/sources/loaders';
import { storageConfigFromText, type StorageConfig } from '../src/client/sources/storage-config';
import { POSTGRES_BIN, postgresSkipReason, withPostgresServer, type PostgresServer } from './support/postgres';
import { mariadbSkipReason, withMariadbServer, type MariadbServer } from './support/mariadb';
import { dumpToFiles } from './support/dump-to-files';

const postgresSkip = postgresSkipReason();
if (postgresSkip !== undefined) console.log(`load-kept-columns (PostgreSQL) skipped: ${postgresSkip}`);
const mariadbSkip = mariadbSkipReason();
if (mariadbSkip !== undefined) console.log(`load-kept-columns (MariaDB) skipped: ${mariadbSkip}`);

/** The same tables and changes on both: customers (password_hash left out), orders referencing them, notes without a key. */
const SCHEMA = [
  'CREATE TABLE customers (id int PRIMARY KEY, name varchar(50) NOT NULL, password_hash varchar(50))',
  'CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL, total int NOT NULL, FOREIGN KEY (customer_id) REFERENCES customers (id))',
  'CREATE TABLE notes (body varchar(50) NOT NULL, secret varchar(50))',
  // A unique key besides the primary one: an upsert matched a dumped row to another live row by it (review).
  'CREATE TABLE logins (id int PRIMARY KEY, email varchar(50) NOT NULL UNIQUE)',
  // A cascade inside the dump, and a left-out column that is NOT NULL.
  'CREATE TABLE parents (id int PRIMARY KEY)',
  'CREATE TABLE kids (id int PRIMARY KEY, parent_id int NOT NULL, secret varchar(50), FOREIGN KEY (parent_id) REFERENCES parents (id) ON DELETE CASCADE)',
  'CREATE TABLE accounts (id int PRIMARY KEY, pw varchar(50) NOT NULL)',
];
const ROWS = [
  "INSERT INTO customers VALUES (1, 'ann', 'h1'), (2, 'bob', 'h2'), (3, 'cy', 'h3'), (4, 'dee', 'h4'), (5, 'eve', 'h5')",
  'INSERT INTO orders VALUES (10, 1, 100), (11, 2, 110), (12, 5, 120)',
  "INSERT INTO notes VALUES ('first', 's1')",
  "INSERT INTO logins VALUES (1, 'x'), (2, 'y')",
  'INSERT INTO parents VALUES (1)',
  "INSERT INTO kids VALUES (10, 1, 's10')",
  "INSERT INTO accounts VALUES (1, 'p1'), (2, 'p2')",
];
/** After the dump: every hash changed, a name changed, a customer (with an order) made, one deleted. */
const CHANGES = [
  "UPDATE customers SET password_hash = CONCAT('new', id)",
  "UPDATE customers SET name = 'ann changed' WHERE id = 1",
  "INSERT INTO customers VALUES (6, 'fay', 'h6')",
  'INSERT INTO orders VALUES (13, 6, 130)',
  'DELETE FROM orders WHERE customer_id = 5',
  'DELETE FROM customers WHERE id = 5',
  'DELETE FROM logins WHERE id = 1',
  "UPDATE logins SET email = 'x' WHERE id = 2",
  'INSERT INTO parents VALUES (2)',
  "UPDATE kids SET parent_id = 2, secret = 'live'",
  "UPDATE accounts SET pw = CONCAT('new', id)",
];
/** What the load must leave: the dump's rows and names, the hashes of the rows that stayed, NULL for the one back. */
const EXPECTED_CUSTOMERS = 'ann new1|bob new2|cy new3|dee new4|eve -';
const EXPECTED_ORDERS = '10 1|11 2|12 5';

function postgresConfig(server: PostgresServer, lines: readonly string[]): StorageConfig {
  return storageConfigFromText('storage.conf', [
    'source = shop', 'kind = postgresql', 'database = shop', `socket = ${server.socketDirectory}`, `port = ${server.port}`,
    `bin_dir = ${POSTGRES_BIN}`, 'user = postgres', ...lines,
  ].join('\n'));
}

function mariadbConfig(server: MariadbServer, lines: readonly string[]): StorageConfig {
  return storageConfigFromText('storage.conf', [
    'source = shop', 'kind = mariadb', 'database = shop', `socket = ${server.socket}`, 'user = root', ...lines,
  ].join('\n'));
}

interface Database {
  run(sql: string): Promise<string>;
}

async function joined(database: Database, sql: string): Promise<string> {
  return (await database.run(sql)).split('\n').join('|');
}

async function customersAndOrders(database: Database): Promise<{ customers: string; orders: string }> {
  return {
    customers: (await database.run("SELECT CONCAT(name, ' ', COALESCE(password_hash, '-')) FROM customers ORDER BY id")).split('\n').join('|'),
    orders: (await database.run("SELECT CONCAT(id, ' ', customer_id) FROM orders ORDER BY id")).split('\n').join('|'),
  };
}

async function provesKeptColumns(database: Database, config: (lines: readonly string[]) => StorageConfig, folder: string): Promise<void> {
  for (const statement of [...SCHEMA, ...ROWS]) await database.run(statement);
  const work = join(folder, 'work');
  const excluded = 'exclude_columns = customers.password_hash, kids.secret, accounts.pw';
  const kept = config([excluded, 'exclude_tables = notes']);
  const complete = await dumpToFiles(kept, work, join(folder, 'complete'));
  for (const statement of CHANGES) await database.run(statement);

  assert.deepEqual((await loadRestoredDumps(kept, complete)).map((loaded) => loaded.error ?? 'ok'), complete.map(() => 'ok'));
  assert.deepEqual(await customersAndOrders(database), { customers: EXPECTED_CUSTOMERS, orders: EXPECTED_ORDERS },
    'rows as dumped, left-out hashes kept where the row stayed (all NULL without the fix)');
  assert.equal(await joined(database, "SELECT CONCAT(id, ' ', email) FROM logins ORDER BY id"), '1 x|2 y', 'every dumped row, whatever the unique keys');
  assert.equal(await joined(database, "SELECT CONCAT(id, ' ', parent_id, ' ', COALESCE(secret, '-')) FROM kids"), '10 1 live',
    'a cascade inside the dump does not take the kept value');
  assert.equal(await joined(database, 'SELECT pw FROM accounts ORDER BY id'), 'new1|new2', 'a NOT NULL left-out column is kept, not refused');

  // Rows deleted by such a load must not take rows of tables outside the dump with them.
  await database.run('CREATE TABLE audit (customer_id int NOT NULL, FOREIGN KEY (customer_id) REFERENCES customers (id) ON DELETE CASCADE)');
  await database.run('INSERT INTO audit VALUES (1)');
  const outside = config([excluded, 'exclude_tables = notes, audit']);
  const cascading = await loadRestoredDumps(outside, await dumpToFiles(outside, work, join(folder, 'outside')));
  assert.ok(cascading.every((loaded) => !loaded.ok));
  assert.match(cascading[0].error ?? '', /tables outside the dump reference them: \S+\.audit \(foreign key \S+ → customers ON DELETE CASCADE\)/);
  assert.equal(await database.run('SELECT COUNT(*) FROM audit'), '1');
  await database.run('DROP TABLE audit');

  // A left-out column of a table with no key: refused, named, and nothing of the load stays.
  const unkeyed = config([`${excluded}, notes.secret`]);
  const withNotes = await dumpToFiles(unkeyed, work, join(folder, 'notes'));
  await database.run("UPDATE customers SET name = 'renamed' WHERE id = 2");
  await database.run("UPDATE notes SET secret = 'live'");
  const before = await customersAndOrders(database);
  const refused = await loadRestoredDumps(unkeyed, withNotes);
  assert.ok(refused.every((loaded) => !loaded.ok), 'schema.sql and data.sql are one load');
  assert.match(refused[0].error ?? '', /table notes has columns left out of the dump \(exclude_columns: secret\) and no primary key .* nothing was loaded/);
  assert.deepEqual(await customersAndOrders(database), before, 'the customers loaded before notes were rolled back');
  assert.equal(await database.run('SELECT secret FROM notes'), 'live');
}

test('PostgreSQL: a complete load over the database keeps the columns the dump left out', { skip: postgresSkip }, async () => {
  await withPostgresServer('cpsbackup-pg-kept-', async (server, folder) => {
    await server.psql('postgres', 'CREATE DATABASE shop');
    const database = { run: async (sql: string) => (await server.psql('shop', sql)).trim() };
    await provesKeptColumns(database, (lines) => postgresConfig(server, lines), folder);
  });
});

test('MariaDB: a complete load over the database keeps the columns the dump left out', { skip: mariadbSkip }, async () => {
  await withMariadbServer('cpsbackup-maria-kept-', async (server, folder) => {
    await server.query('mysql', 'CREATE DATABASE shop');
    const database = { run: async (sql: string) => (await server.query('shop', sql)).trim() };
    await provesKeptColumns(database, (lines) => mariadbConfig(server, lines), folder);
  });
});
