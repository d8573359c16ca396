// Regression: a MariaDB complete load into existing tables removed their rows with DELETE FROM while
// foreign_key_checks = 1, so ON DELETE CASCADE / SET NULL keys from tables outside the dump
// (exclude_tables, not in `tables =`, another database) emptied or nulled those tables, which no
// backup held. The load now refuses first, naming each such key, and changes nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRestoredDumps } from '../src/client/sources/loaders';
import { storageConfigFromText, type StorageConfig } from '../src/client/sources/storage-config';
import { mariadbSkipReason, startMariadb, type MariadbServer } from './support/mariadb';
import { dumpToFiles } from './support/dump-to-files';

const skip = mariadbSkipReason();
if (skip !== undefined) console.log(`mariadb-load-references skipped: ${skip}`);

function sourceConfig(server: MariadbServer): StorageConfig {
  return storageConfigFromText('storage.conf', [
    'source = shop', 'kind = mariadb', 'database = shop', `socket = ${server.socket}`, 'user = root', 'exclude_tables = orders',
  ].join('\n'));
}

test('a complete load refuses existing tables that tables outside the dump reference with ON DELETE CASCADE or SET NULL', { skip }, async (t) => {
  const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-maria-references-'));
  t.after(() => rm(folder, { recursive: true, force: true }));
  const server = await startMariadb();
  t.after(() => server.stop());
  await server.query('mysql', 'CREATE DATABASE shop; CREATE DATABASE audit');
  await server.query('shop', `CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(20)) ENGINE=InnoDB;
    CREATE TABLE orders (id INT PRIMARY KEY, customer_id INT, FOREIGN KEY fk_orders (customer_id) REFERENCES customers (id) ON DELETE CASCADE) ENGINE=InnoDB;
    INSERT INTO customers VALUES (1, 'ann'), (2, 'bob'); INSERT INTO orders VALUES (10, 1), (11, 2);`);
  await server.query('audit', `CREATE TABLE visits (id INT PRIMARY KEY, customer_id INT,
    CONSTRAINT fk_visits FOREIGN KEY (customer_id) REFERENCES shop.customers (id) ON DELETE SET NULL) ENGINE=InnoDB;
    INSERT INTO visits VALUES (100, 1);`);
  const config = sourceConfig(server);
  const dumped = await dumpToFiles(config, join(folder, 'work'), join(folder, 'restore'));

  const results = await loadRestoredDumps(config, dumped);
  assert.equal(results[0].ok, false);
  assert.match(results[0].error ?? '', /shop: a complete load deletes the rows of the dumped tables, and tables outside the dump reference them/);
  assert.match(results[0].error ?? '', /audit\.visits \(foreign key fk_visits → customers ON DELETE SET NULL\), shop\.orders \(foreign key fk_orders → customers ON DELETE CASCADE\)/);
  assert.equal(await server.query('shop', 'SELECT COUNT(*) FROM orders'), '2', 'orders, outside the dump, untouched');
  assert.equal(await server.query('audit', 'SELECT customer_id FROM visits'), '1');
});
