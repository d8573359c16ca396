// Regression: a MariaDB partial load upserted with INSERT ... ON DUPLICATE KEY UPDATE, which fires on
// any unique key: a user deleted and signed up again under the same email (a new id) overwrote the
// deleted user's row in the copy, and the new id never arrived; exit 0. Now a row clashing on a
// unique key with a dumped row is deleted first (gone from the source, its children as ON DELETE
// says) or, when it is in the dump too (two rows swapping emails), comes back by its own key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadRestoredDumps } from '../src/client/sources/loaders';
import { PartialBase } from '../src/client/sources/partial-base';
import { storageConfigFromText, type StorageConfig } from '../src/client/sources/storage-config';
import { mariadbSkipReason, withMariadbServer, type MariadbServer } from './support/mariadb';
import { dumpToFiles } from './support/dump-to-files';

const skip = mariadbSkipReason();
if (skip !== undefined) console.log(`mariadb-partial-unique-keys skipped: ${skip}`);

function sourceConfig(server: MariadbServer): StorageConfig {
  return storageConfigFromText('storage.conf', [
    'source = crm5', 'kind = mariadb', 'database = crm5', `socket = ${server.socket}`, 'user = root',
    'since_field = users.updated_at', 'since_field = orders.updated_at',
  ].join('\n'));
}

const USERS = 'SELECT id, email, name FROM users ORDER BY id';
const ORDERS = 'SELECT id, user_id FROM orders ORDER BY id';
const copyInto = { loadInto: { database: 'crm5_copy', bySource: new Map<string, string>() } };

test('partial load: a unique value taken over by a new row or swapped between rows never redirects an upsert', { skip }, async () => {
  await withMariadbServer('cpsbackup-maria-unique-', async (server, folder) => {
    await server.query('mysql', `CREATE DATABASE crm5; USE crm5;
      CREATE TABLE users (id INT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(50) NOT NULL UNIQUE, name TEXT,
        updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6));
      CREATE TABLE orders (id INT PRIMARY KEY, user_id INT NOT NULL, updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
        FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE);
      INSERT INTO users (email, name) VALUES ('a@x', 'Alice'), ('b@x', 'Bob');
      INSERT INTO orders (id, user_id) VALUES (10, 1), (20, 2);`);
    const config = sourceConfig(server);
    const labels: Record<string, string> = {};
    const complete = await dumpToFiles(config, join(folder, 'work'), join(folder, 'complete'), { labels });
    assert.deepEqual((await loadRestoredDumps(config, complete, copyInto)).map((result) => result.error ?? 'ok'), ['ok', 'ok', 'ok', 'ok']);

    await new Promise((resolve) => setTimeout(resolve, 20));
    await server.query('crm5', `DELETE FROM users WHERE id = 2; INSERT INTO users (email, name) VALUES ('b@x', 'Bob New Account')`);
    const partialLabels: Record<string, string> = {};
    const partial = await dumpToFiles(config, join(folder, 'work'), join(folder, 'partial'), { labels: partialLabels, partialSince: new PartialBase(Date.now(), labels) });
    assert.deepEqual((await loadRestoredDumps(config, partial, { ...copyInto, partial: true })).map((result) => result.error ?? 'ok'), ['ok']);
    assert.equal(await server.query('crm5_copy', USERS), '1\ta@x\tAlice\n3\tb@x\tBob New Account',
      'row 3 arrived under its own id; row 2, whose email it holds, was deleted in the source and is gone (with its order)');
    assert.equal(await server.query('crm5_copy', ORDERS), '10\t1');

    await new Promise((resolve) => setTimeout(resolve, 20));
    await server.query('crm5', `INSERT INTO orders (id, user_id) VALUES (30, 3);
      UPDATE users SET email = 'swap' WHERE id = 1; UPDATE users SET email = 'a@x' WHERE id = 3; UPDATE users SET email = 'b@x' WHERE id = 1;`);
    const swapped = await dumpToFiles(config, join(folder, 'work'), join(folder, 'swapped'), { partialSince: new PartialBase(Date.now(), partialLabels) });
    assert.deepEqual((await loadRestoredDumps(config, swapped, { ...copyInto, partial: true })).map((result) => result.error ?? 'ok'), ['ok']);
    assert.equal(await server.query('crm5_copy', USERS), await server.query('crm5', USERS));
    assert.equal(await server.query('crm5_copy', USERS), '1\tb@x\tAlice\n3\ta@x\tBob New Account');
    assert.equal(await server.query('crm5_copy', ORDERS), '10\t1\n30\t3', 'the swapped users\' orders were not cascaded away');
  });
});
