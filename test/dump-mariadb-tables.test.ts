// Proves `kind = mariadb` against a real MariaDB started here: a complete dump recreates the
// tables in an empty database with every value intact (binary, NUL, newlines, FLOAT digits, BIT,
// time zones); all tables come from one snapshot; the password never reaches argv; partials carry
// tombstones and soft deletes; a failing load names its table and changes nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startDumps } from '../src/client/sources/dump-run';
import { loadRestoredDumps } from '../src/client/sources/loaders';
import { storageConfigFromText, type StorageConfig } from '../src/client/sources/storage-config';
import { PartialBase } from '../src/client/sources/partial-base';
import { ConfigError, DumpFailedError } from '../src/common/errors';
import { mariadbSkipReason, withMariadbServer, type MariadbServer } from './support/mariadb';
import { dumpToFiles } from './support/dump-to-files';
import { commandLinesContaining, readWhole, sectionRows } from './support/dump-tables';

const skip = mariadbSkipReason();
if (skip !== undefined) console.log(`dump-mariadb-tables skipped: ${skip}`);

const withMariadb = (run: (server: MariadbServer, folder: string) => Promise<void>): Promise<void> => withMariadbServer('cpsbackup-maria-tables-', run);

function sourceConfig(server: MariadbServer, lines: readonly string[]): StorageConfig {
  return storageConfigFromText('storage.conf', [
    'source = shop', 'kind = mariadb', 'database = shop', `socket = ${server.socket}`,
    ...(lines.some((line) => line.startsWith('user')) ? [] : ['user = root']), ...lines,
  ].join('\n'));
}

/** Row count and a digest of every value (hex, so binary and NULL are unambiguous), in key order. */
async function fingerprint(server: MariadbServer, database: string, table: string, key = 'id', where = ''): Promise<string> {
  const columns = (await server.query(database, `SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '${database}' `
    + `AND TABLE_NAME = '${table}' ORDER BY ORDINAL_POSITION`)).split('\n');
  const values = columns.map((column) => `IFNULL(HEX(\`${column}\`), 'null')`).join(', ');
  return server.query(database, 'SET SESSION group_concat_max_len = 1073741824; '
    + `SELECT CONCAT(COUNT(*), ' ', IFNULL(MD5(GROUP_CONCAT(CONCAT_WS(',', ${values}) ORDER BY ${key} SEPARATOR ';')), '-')) FROM \`${table}\` ${where}`);
}

const loadInto = (database: string): { loadInto: { database: string; bySource: Map<string, string> } } =>
  ({ loadInto: { database, bySource: new Map() } });

test('complete dump into an empty database: schema recreated, every type, NULL and auto-increment intact; source untouched', { skip }, async () => {
  await withMariadb(async (server, folder) => {
    await server.query('mysql', `
      CREATE DATABASE shop CHARACTER SET utf8mb4;
      USE shop;
      CREATE TABLE kinds (
        id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, label VARCHAR(200), latin VARCHAR(50) CHARACTER SET latin1, raw VARBINARY(64), blob_value LONGBLOB,
        amount DECIMAL(40,20), ratio DOUBLE, small FLOAT, at DATETIME(6), stamp TIMESTAMP(6) NULL, day DATE, span TIME(3), year_value YEAR,
        bits BIT(5), mood ENUM('ok', 'sad'), tags SET('a', 'b', 'c'), doc JSON, flag TINYINT(1), doubled DECIMAL(41,20) AS (amount * 2) VIRTUAL);
      SET time_zone = '+05:30';
      INSERT INTO kinds (id, label, latin, raw, blob_value, amount, ratio, small, at, stamp, day, span, year_value, bits, mood, tags, doc, flag) VALUES
        (1, CONCAT('tab', CHAR(9), 'newline', CHAR(10), 'cr', CHAR(13), 'back\\\\slash quote'' nul', CHAR(0), ' ctrl-z', CHAR(26), ' é€ 🙂'),
          'café', UNHEX('00FF0A5C0D27'), REPEAT(UNHEX('000102'), 1000), '12345678901234567890.12345678901234567890', 0.1e0 + 0.2e0,
          1/3, '2024-02-29 12:34:56.789012', '2024-02-29 12:34:56.789012', '2024-02-29', '-838:59:59.999', 2024, b'10101', 'sad', 'a,c',
          '{"k": [1, 2.5, null]}', 1),
        (2, 'NULL', '', X'', '', -0.5, 1e300, 3.4e38, '0000-00-00 00:00:00', NULL, '1000-01-01', '00:00:00', 1901, b'0', 'ok', '', 'null', 0),
        (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
        (18446744073709551615, '\\\\.', 'x', UNHEX('5C2E'), NULL, 0, -0e0, 16777217, '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07.999999',
          '9999-12-31', '838:59:59', 2155, b'11111', NULL, 'b', '"\\\\\\\\."', NULL);
      INSERT INTO kinds (id, label, amount, at) SELECT seq + 100, CONCAT('row ', seq), seq / 7, '2024-01-01' + INTERVAL seq SECOND FROM seq_1_to_20000;
      CREATE TABLE counters (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(20) NOT NULL UNIQUE) ENGINE=InnoDB;
      INSERT INTO counters (name) VALUES ('c1'), ('c2'), ('c3');
      CREATE TABLE notes (body TEXT);
      INSERT INTO notes VALUES ('no primary key'), ('twice'), ('twice');`);
    const tables: [string, string][] = [['kinds', 'id'], ['counters', 'id'], ['notes', 'body']];
    const before = await Promise.all(tables.map(([table, key]) => fingerprint(server, 'shop', table, key)));
    const config = sourceConfig(server, []);
    const restored = await dumpToFiles(config, join(folder, 'work'), join(folder, 'restore'));
    assert.deepEqual(restored.map((dump) => dump.path.split('/').slice(-2).join('/')), ['shop/schema.sql', 'shop/data.sql', 'shop/triggers.jsonl', 'shop/routines.jsonl']);
    assert.deepEqual(await readdir(join(folder, 'work')), [], 'FIFOs and credential folders are gone');

    const results = await loadRestoredDumps(config, restored, loadInto('shop_copy'));
    assert.deepEqual(results.map((result) => result.error ?? 'ok'), ['ok', 'ok', 'ok', 'ok']);
    for (const [index, [table, key]] of tables.entries()) {
      assert.equal(await fingerprint(server, 'shop_copy', table, key), before[index], `${table} in shop_copy`);
      assert.equal(await fingerprint(server, 'shop', table, key), before[index], `${table} in shop, untouched`);
    }
    assert.equal(await server.query('shop_copy', `INSERT INTO counters (name) VALUES ('c4'); SELECT LAST_INSERT_ID()`), '4',
      'auto-increment continues after the loaded ids');
    assert.equal(await server.query('shop_copy', `SELECT DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'shop_copy'`), 'utf8mb4');

    // A complete load over existing tables keeps them and replaces their rows.
    await server.query('shop_copy', `DELETE FROM notes; UPDATE kinds SET label = 'changed'`);
    const again = await dumpToFiles(config, join(folder, 'work'), join(folder, 'again'));
    assert.deepEqual((await loadRestoredDumps(config, again, loadInto('shop_copy'))).map((result) => result.error ?? 'ok'), ['ok', 'ok', 'ok', 'ok']);
    assert.equal(await fingerprint(server, 'shop_copy', 'notes', 'body'), before[2]);
    assert.equal(await fingerprint(server, 'shop_copy', 'kinds'), before[0]);
  });
});

test('one snapshot for every table: a transaction committed while the dump waits inside the first table is in no table', { skip }, async () => {
  await withMariadb(async (server, folder) => {
    await server.query('mysql', `
      CREATE DATABASE shop;
      USE shop;
      CREATE TABLE a (id INT PRIMARY KEY, filler VARCHAR(200)) ENGINE=InnoDB;
      CREATE TABLE b (id INT PRIMARY KEY, FOREIGN KEY (id) REFERENCES a (id)) ENGINE=InnoDB;
      INSERT INTO a SELECT seq, REPEAT('x', 100) FROM seq_1_to_50000;
      INSERT INTO b SELECT seq FROM seq_1_to_50000_step_10;`);
    const run = await startDumps(sourceConfig(server, []), join(folder, 'work'));
    try {
      const [schemaFile, dataFile, triggersFile] = run.files;
      await Promise.all([readWhole(run.openDump(schemaFile)), readWhole(run.openDump(triggersFile))]);
      const reader = (run.openDump(dataFile) as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
      const received: Buffer[] = [];
      const text = (): string => Buffer.concat(received).toString('utf8');
      while (!/\nINSERT INTO `a` /.test(text())) {
        const next = await reader.next();
        assert.ok(!next.done, 'the dump ended before the rows of a');
        received.push(next.value);
      }
      // 6 MB of a are still to come: the client is blocked inside a's SELECT, b's has not started.
      assert.doesNotMatch(text(), /-- cpsbackup-table \{"table":"b"/);
      await server.query('shop', 'START TRANSACTION; INSERT INTO a VALUES (60000, NULL); INSERT INTO b VALUES (60000); COMMIT;');
      for (let next = await reader.next(); !next.done; next = await reader.next()) received.push(next.value);
      await run.finish();
      const rows = { a: sectionRows(text(), 'a'), b: sectionRows(text(), 'b') };
      assert.equal(rows.a.length, 50000);
      assert.equal(rows.b.length, 5000);
      assert.ok(!rows.b.some((row) => row.includes('(60000)')), 'b was read in the snapshot taken before the insert');
    } finally {
      await run.abort();
    }
  });
});

test('password_file: the client and mariadb-dump get it from a 0600 option file, never argv; a readable or wrong one is refused', { skip }, async () => {
  await withMariadb(async (server, folder) => {
    const password = `p@ss:w\\rd 'x" #${process.pid}`;
    const sqlPassword = password.replaceAll('\\', '\\\\').replaceAll("'", "\\'");
    await server.query('mysql', `CREATE USER 'backup'@'localhost' IDENTIFIED BY '${sqlPassword}'; GRANT ALL ON *.* TO 'backup'@'localhost';
      CREATE DATABASE shop; USE shop; CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(40)); INSERT INTO t SELECT seq, MD5(seq) FROM seq_1_to_100000;`);
    const passwordFile = join(folder, 'shop.password');
    await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
    const config = sourceConfig(server, ['user = backup', `password_file = ${passwordFile}`]);
    const work = join(folder, 'work');
    const run = await startDumps(config, work);
    try {
      assert.deepEqual(await commandLinesContaining(password), []);
      const [credentials] = await readdir(join(work, 'credentials'));
      assert.equal((await stat(join(work, 'credentials', credentials, 'client.cnf'))).mode & 0o777, 0o600);
      for (const file of run.files) await readWhole(run.openDump(file));
      await run.finish();
    } finally {
      await run.abort();
    }
    assert.deepEqual(await readdir(work), [], 'credentials removed once the dumpers finished');
    const restored = await dumpToFiles(config, work, join(folder, 'restore'));
    assert.deepEqual((await loadRestoredDumps(config, restored, loadInto('shop_copy'))).map((result) => result.error ?? 'ok'), ['ok', 'ok', 'ok', 'ok']);
    assert.equal(await fingerprint(server, 'shop_copy', 't'), await fingerprint(server, 'shop', 't'));

    await chmod(passwordFile, 0o640);
    await assert.rejects(startDumps(config, work), (error: unknown) =>
      error instanceof ConfigError && /password_file is readable by group or others \(mode 640\); chmod 600 it/.test(error.message));
    await writeFile(passwordFile, 'wrong\n');
    await chmod(passwordFile, 0o600);
    await assert.rejects(startDumps(config, work), (error: unknown) =>
      error instanceof DumpFailedError && /^dump source shop: reading the tables of shop: mariadb exited with code 1\n.*Access denied for user 'backup'@'localhost'/s.test(error.message));
  });
});

test('partials: upserts, tombstones and soft deletes in order; a failing load names its table and changes nothing', { skip }, async () => {
  await withMariadb(async (server, folder) => {
    await server.query('mysql', `
      CREATE DATABASE shop;
      USE shop;
      CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, deleted_at DATETIME(6) NULL, updated_at DATETIME(6) NOT NULL);
      CREATE TABLE orders (id INT PRIMARY KEY, customer_id INT NOT NULL, total DECIMAL(10,2) NOT NULL, updated_at DATETIME(6) NOT NULL,
        FOREIGN KEY (customer_id) REFERENCES customers (id));
      CREATE TABLE orders_deleted (order_id INT PRIMARY KEY, deleted_at DATETIME(6) NOT NULL);
      CREATE TRIGGER orders_tombstone AFTER DELETE ON orders FOR EACH ROW
        INSERT INTO orders_deleted VALUES (OLD.id, NOW(6)) ON DUPLICATE KEY UPDATE deleted_at = NOW(6);
      INSERT INTO customers SELECT seq, CONCAT('customer ', seq), NULL, '2024-01-01' + INTERVAL seq MINUTE FROM seq_1_to_500;
      INSERT INTO orders SELECT seq, 1 + seq % 500, seq, '2024-01-01' + INTERVAL seq MINUTE FROM seq_1_to_2000;`);
    const config = sourceConfig(server, [
      'since_field = customers.updated_at', 'since_field = orders.updated_at', 'since_field = orders_deleted.deleted_at',
      'deletes_from = orders: orders_deleted.order_id', 'deletes_from = customers: customers.deleted_at', 'overlap_seconds = 0',
    ]);
    const work = join(folder, 'work');
    let labels: Record<string, string> = {};
    const complete = await dumpToFiles(config, work, join(folder, 'complete'), { labels });
    assert.deepEqual(Object.fromEntries(Object.entries(labels).filter(([key]) => key.startsWith('mark.'))), { 'mark.shop.customers.updated_at': '2024-01-01 08:20:00.000000', 'mark.shop.orders.updated_at': '2024-01-02 09:20:00.000000' });
    assert.deepEqual((await loadRestoredDumps(config, complete, loadInto('copy'))).map((result) => result.error ?? 'ok'), ['ok', 'ok', 'ok', 'ok']);

    await server.query('shop', `
      UPDATE customers SET name = CONCAT(name, ' (gold)'), updated_at = NOW(6) WHERE id % 50 = 0;
      INSERT INTO orders SELECT seq, 1 + seq % 500, seq, NOW(6) FROM seq_2001_to_2100;
      DELETE FROM orders WHERE customer_id = 7 OR id BETWEEN 100 AND 120;
      UPDATE customers SET deleted_at = NOW(6), updated_at = NOW(6) WHERE id = 7;`);
    const partialLabels: Record<string, string> = {};
    const partial = await dumpToFiles(config, work, join(folder, 'partial'), { labels: partialLabels, partialSince: new PartialBase(Date.now(), labels) });
    const data = await readFile(partial[0].path, 'utf8');
    assert.equal(sectionRows(data, 'customers').length, 11, 'the 10 updated customers, the soft-deleted one');
    assert.equal(sectionRows(data, 'orders').length, 100, 'the 99 new orders not deleted since, and the one at the mark');
    assert.equal(sectionRows(data, 'orders_deleted').length, 26, 'all 5 + 21 tombstones: the table was empty at the complete dump');
    assert.deepEqual((await loadRestoredDumps(config, partial, { ...loadInto('copy'), partial: true })).map((result) => result.error ?? 'ok'), ['ok']);
    assert.equal(await fingerprint(server, 'copy', 'orders'), await fingerprint(server, 'shop', 'orders'));
    assert.equal(await fingerprint(server, 'copy', 'orders_deleted', 'order_id'), await fingerprint(server, 'shop', 'orders_deleted', 'order_id'));
    assert.equal(await fingerprint(server, 'copy', 'customers'), await fingerprint(server, 'shop', 'customers', 'id', 'WHERE deleted_at IS NULL'),
      'the soft-deleted customer is gone from the copy');

    labels = partialLabels;
    await server.query('copy', 'ALTER TABLE orders ADD CONSTRAINT small_orders CHECK (total < 5000)');
    await server.query('shop', `UPDATE customers SET name = 'renamed', updated_at = NOW(6) WHERE id = 1;
      INSERT INTO orders VALUES (9000, 1, 9000, NOW(6));`);
    const failing = await dumpToFiles(config, work, join(folder, 'failing'), { partialSince: new PartialBase(Date.now(), labels) });
    const customersBefore = await fingerprint(server, 'copy', 'customers');
    const [result] = await loadRestoredDumps(config, failing, { ...loadInto('copy'), partial: true });
    assert.equal(result.ok, false);
    assert.match(result.error ?? '', /^load shop: table orders \(upsert\): loading into copy: mariadb exited with code 1\n.*CONSTRAINT `small_orders` failed for `copy`\.`orders`/s);
    assert.equal(await fingerprint(server, 'copy', 'customers'), customersBefore, 'the customers upserted before orders were rolled back');
    await stat(failing[0].path);
  });
});
