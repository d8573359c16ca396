// Proves `kind = postgresql` against a real PostgreSQL started here: a complete dump recreates the
// tables in an empty database with every value intact; all tables come from one snapshot; the
// password never reaches argv; partials carry tombstones and soft deletes; a failing load names
// its table and changes nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, stat, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { startDumps } from '../src/client/sources/dump-run';
import { loadRestoredDumps } from '../src/client/sources/loaders';
import type { StorageConfig } from '../src/client/sources/storage-config';
import { PartialBase } from '../src/client/sources/partial-base';
import { ConfigError, DumpFailedError } from '../src/common/errors';
import { postgresSkipReason, withPostgresServer, type PostgresOptions, type PostgresServer } from './support/postgres';
import { shopSourceConfig } from './support/postgres-source';
import { dumpToFiles } from './support/dump-to-files';
import { commandLinesContaining, readWhole, sectionRows } from './support/dump-tables';

const skip = postgresSkipReason();
if (skip !== undefined) console.log(`dump-postgresql-tables skipped: ${skip}`);

const withPostgres = (options: PostgresOptions, run: (server: PostgresServer, folder: string) => Promise<void>): Promise<void> =>
  withPostgresServer('cpsbackup-pg-tables-', run, options);

const sourceConfig = (server: PostgresServer, lines: readonly string[]): StorageConfig => shopSourceConfig(server, lines);

/** Row count and a digest of every row's text, in key order: equal digests, equal tables. */
const fingerprint = (server: PostgresServer, database: string, table: string, columns = 't', key = 'id'): Promise<string> =>
  server.psql(database, `SELECT count(*) || ' ' || coalesce(md5(string_agg((${columns})::text, '|' ORDER BY ${key})), '-') FROM ${table} t`);

const loadInto = (database: string): { loadInto: { database: string; bySource: Map<string, string> } } =>
  ({ loadInto: { database, bySource: new Map() } });

test('complete dump into an empty database: schema recreated, every type, NULL, sequences and identity intact; source untouched', { skip }, async () => {
  await withPostgres({}, async (server, folder) => {
    await server.psql('postgres', 'CREATE DATABASE shop');
    await server.psql('shop', `
      CREATE TABLE kinds (
        id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, label text, raw bytea, amount numeric(30,10), ratio float8, small float4,
        at timestamptz, day date, tags text[], doc jsonb, flag boolean, doubled numeric GENERATED ALWAYS AS (amount * 2) STORED);
      INSERT INTO kinds (label, raw, amount, ratio, small, at, day, tags, doc, flag) VALUES
        (E'tab\\there\\nnewline \\\\ backslash é€ 🙂', '\\x00ff0a5c0d'::bytea, 12345678901234567890.0123456789, 0.1::float8 + 0.2::float8,
          1.0 / 3, '2024-02-29 12:34:56.789012+05:30', '2024-02-29', ARRAY['a', 'b,c', 'NULL', NULL], '{"k": [1, 2.5, null]}', true),
        ('NULL', '', -0.5, 'NaN', '-Infinity', '-infinity', '0001-01-01 BC', '{}', 'null', false),
        (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
        (E'\\\\.', '\\x5c2e'::bytea, 0, 1e308, 1e-38, 'infinity', '9999-12-31', ARRAY[''], '"\\\\."', NULL);
      INSERT INTO kinds (label, amount, at) SELECT 'row ' || n, n / 7.0, '2024-01-01'::timestamptz + n * interval '1 second' FROM generate_series(1, 20000) AS n;
      CREATE TABLE counters (id serial PRIMARY KEY, name text NOT NULL UNIQUE);
      INSERT INTO counters (name) SELECT 'c' || n FROM generate_series(1, 5) AS n;
      DELETE FROM counters WHERE id > 3;
      CREATE TABLE notes (body text);
      INSERT INTO notes VALUES ('no primary key'), ('twice'), ('twice');`);
    const tables = { kinds: 'id', counters: 'id', notes: 'body' };
    const before = await Promise.all(Object.entries(tables).map(([table, key]) => fingerprint(server, 'shop', table, 't', key)));
    const config = sourceConfig(server, []);
    const labels: Record<string, string> = {};
    const restored = await dumpToFiles(config, join(folder, 'work'), join(folder, 'restore'), { labels });
    assert.deepEqual(restored.map((dump) => dump.path.split('/').slice(-2).join('/')), ['shop/schema.sql', 'shop/data.sql']);
    assert.deepEqual(Object.keys(labels).filter((key) => key.startsWith('mark.')), [], 'no since_field, no mark');
    assert.deepEqual(await readdir(join(folder, 'work')), [], 'FIFOs and credential folders are gone');

    const results = await loadRestoredDumps(config, restored, loadInto('shop_copy'));
    assert.deepEqual(results.map((result) => result.error ?? 'ok'), ['ok', 'ok']);
    for (const [index, [table, key]] of Object.entries(tables).entries()) {
      assert.equal(await fingerprint(server, 'shop_copy', table, 't', key), before[index], `${table} in shop_copy`);
      assert.equal(await fingerprint(server, 'shop', table, 't', key), before[index], `${table} in shop, untouched`);
    }
    assert.equal(await server.psql('shop_copy', `SELECT nextval('counters_id_seq')`), '6', 'the sequence continues where the source was');
    assert.equal(await server.psql('shop_copy', `INSERT INTO kinds (label) VALUES ('new') RETURNING id`), '20005', 'identity continues too');
    assert.equal(await server.psql('shop', `SELECT nextval('counters_id_seq')`), '6', 'the source sequence was not moved by the dump');

    // A complete load replaces: loaded again over the changed copy, the copy is the dump again.
    await server.psql('shop_copy', `DELETE FROM notes; UPDATE kinds SET label = 'changed'`);
    const again = await dumpToFiles(config, join(folder, 'work'), join(folder, 'again'));
    assert.deepEqual((await loadRestoredDumps(config, again, loadInto('shop_copy'))).map((result) => result.error ?? 'ok'), ['ok', 'ok']);
    assert.equal(await fingerprint(server, 'shop_copy', 'notes', 't', 'body'), before[2]);
    assert.equal(await fingerprint(server, 'shop_copy', 'kinds'), before[0]);
  });
});

test('one snapshot for every table: a transaction committed while the dump waits inside the first COPY is in no table', { skip }, async () => {
  await withPostgres({}, async (server, folder) => {
    await server.psql('postgres', 'CREATE DATABASE shop');
    await server.psql('shop', `
      CREATE TABLE a (id int PRIMARY KEY, filler text);
      CREATE TABLE b (id int PRIMARY KEY REFERENCES a);
      INSERT INTO a SELECT n, repeat('x', 100) FROM generate_series(1, 50000) AS n;
      INSERT INTO b SELECT n FROM generate_series(1, 50000, 10) AS n;`);
    const config = sourceConfig(server, []);
    const run = await startDumps(config, join(folder, 'work'));
    try {
      const [schemaFile, dataFile] = run.files;
      await readWhole(run.openDump(schemaFile));
      const reader = (run.openDump(dataFile) as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
      const received: Buffer[] = [];
      const text = (): string => Buffer.concat(received).toString('utf8');
      while (!/COPY "public"\."a" [^\n]*\n\d+\t/.test(text())) {
        const next = await reader.next();
        assert.ok(!next.done, 'the dump ended before the rows of a');
        received.push(next.value);
      }
      // 5 MB of a are still to come: psql is blocked inside COPY a, b's COPY has not started.
      assert.doesNotMatch(text(), /\n\\\.\n/);
      await server.psql('shop', 'BEGIN; INSERT INTO a VALUES (60000, NULL); INSERT INTO b VALUES (60000); COMMIT;');
      for (let next = await reader.next(); !next.done; next = await reader.next()) received.push(next.value);
      await run.finish();
      const rows = { a: sectionRows(text(), 'a'), b: sectionRows(text(), 'b') };
      assert.equal(rows.a.length, 50000);
      assert.equal(rows.b.length, 5000);
      assert.ok(!rows.b.some((row) => row.startsWith('60000')), 'b was read in the snapshot taken before the insert');
    } finally {
      await run.abort();
    }
  });
});

test('password_file: psql and pg_dump get it from a 0600 PGPASSFILE, never argv; a readable or wrong one is refused', { skip }, async () => {
  await withPostgres({ passwordAuth: true }, async (server, folder) => {
    const password = `p@ss:w\\rd 'x" ${process.pid}`;
    await server.psql('postgres', `CREATE ROLE backup LOGIN SUPERUSER PASSWORD '${password.replaceAll("'", "''")}'`);
    await server.psql('postgres', 'CREATE DATABASE shop');
    await server.psql('shop', `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT n, md5(n::text) FROM generate_series(1, 100000) AS n;`);
    const passwordFile = join(folder, 'shop.password');
    await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
    const config = sourceConfig(server, ['user = backup', `password_file = ${passwordFile}`]);
    const work = join(folder, 'work');
    const run = await startDumps(config, work);
    try {
      // The dumpers are running (blocked on their FIFOs): look at every process's command line now.
      assert.deepEqual(await commandLinesContaining(password), []);
      const [credentials] = await readdir(join(work, 'credentials'));
      const passFile = join(work, 'credentials', credentials, 'pgpass');
      assert.equal((await stat(passFile)).mode & 0o777, 0o600);
      assert.equal((await stat(join(work, 'credentials', credentials))).mode & 0o777, 0o700);
      for (const file of run.files) await readWhole(run.openDump(file));
      await run.finish();
    } finally {
      await run.abort();
    }
    assert.deepEqual(await readdir(work), [], 'credentials removed once the dumpers finished');
    const restored = await dumpToFiles(config, work, join(folder, 'restore'));
    assert.deepEqual((await loadRestoredDumps(config, restored, loadInto('shop_copy'))).map((result) => result.error ?? 'ok'), ['ok', 'ok']);
    assert.equal(await fingerprint(server, 'shop_copy', 't'), await fingerprint(server, 'shop', 't'));

    await chmod(passwordFile, 0o644);
    await assert.rejects(startDumps(config, work), (error: unknown) =>
      error instanceof ConfigError && /shop\.password: password_file is readable by group or others \(mode 644\); chmod 600 it/.test(error.message));
    await writeFile(passwordFile, 'wrong\n', { mode: 0o600 });
    await chmod(passwordFile, 0o600);
    await assert.rejects(startDumps(config, work), (error: unknown) =>
      error instanceof DumpFailedError && /^dump source shop: reading the tables of shop: .*psql exited with code 2\n.*password authentication failed for user "backup"/s.test(error.message));
  });
});

test('partials: upserts, tombstones and soft deletes in order; a failing load names its table and changes nothing', { skip }, async () => {
  await withPostgres({}, async (server, folder) => {
    await server.psql('postgres', 'CREATE DATABASE shop');
    await server.psql('shop', `
      CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, deleted_at timestamptz, updated_at timestamptz NOT NULL);
      CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES customers, total numeric(10,2) NOT NULL, updated_at timestamptz NOT NULL);
      CREATE TABLE orders_deleted (order_id int PRIMARY KEY, deleted_at timestamptz NOT NULL DEFAULT clock_timestamp());
      CREATE FUNCTION tombstone() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN INSERT INTO orders_deleted VALUES (OLD.id) ON CONFLICT (order_id) DO UPDATE SET deleted_at = clock_timestamp(); RETURN OLD; END $$;
      CREATE TRIGGER orders_tombstone AFTER DELETE ON orders FOR EACH ROW EXECUTE FUNCTION tombstone();
      INSERT INTO customers SELECT n, 'customer ' || n, NULL, '2024-01-01'::timestamptz + n * interval '1 minute' FROM generate_series(1, 500) AS n;
      INSERT INTO orders SELECT n, 1 + n % 500, n, '2024-01-01'::timestamptz + n * interval '1 minute' FROM generate_series(1, 2000) AS n;`);
    const config = sourceConfig(server, [
      'since_field = customers.updated_at', 'since_field = orders.updated_at', 'since_field = orders_deleted.deleted_at',
      'deletes_from = orders: orders_deleted.order_id', 'deletes_from = customers: customers.deleted_at', 'overlap_seconds = 0',
    ]);
    const work = join(folder, 'work');
    let labels: Record<string, string> = {};
    const complete = await dumpToFiles(config, work, join(folder, 'complete'), { labels });
    assert.deepEqual(Object.keys(labels).filter((key) => key.startsWith('mark.')).sort(), ['mark.shop.customers.updated_at', 'mark.shop.orders.updated_at']);
    assert.deepEqual((await loadRestoredDumps(config, complete, loadInto('copy'))).map((result) => result.error ?? 'ok'), ['ok', 'ok']);

    // Changes: updates, new rows, deleted orders (tombstoned), a customer soft-deleted with its orders gone.
    await server.psql('shop', `
      UPDATE customers SET name = name || ' (gold)', updated_at = clock_timestamp() WHERE id % 50 = 0;
      INSERT INTO orders SELECT n, 1 + n % 500, n, clock_timestamp() FROM generate_series(2001, 2100) AS n;
      DELETE FROM orders WHERE customer_id = 7 OR id BETWEEN 100 AND 120;
      UPDATE customers SET deleted_at = clock_timestamp(), updated_at = clock_timestamp() WHERE id = 7;`);
    const partialLabels: Record<string, string> = {};
    const partial = await dumpToFiles(config, work, join(folder, 'partial'),
      { labels: partialLabels, partialSince: new PartialBase(Date.now(), labels) });
    const data = await readFile(partial[0].path, 'utf8');
    assert.equal(sectionRows(data, 'customers').length, 11, 'the 10 updated customers, the soft-deleted one');
    assert.equal(sectionRows(data, 'orders').length, 100, 'the 99 new orders not deleted since, and the one at the mark');
    assert.equal(sectionRows(data, 'orders_deleted').length, 26, 'all 5 + 21 tombstones: the table was empty at the complete dump');
    assert.deepEqual((await loadRestoredDumps(config, partial, { ...loadInto('copy'), partial: true })).map((result) => result.error ?? 'ok'), ['ok']);
    assert.equal(await fingerprint(server, 'copy', 'orders'), await fingerprint(server, 'shop', 'orders'));
    assert.equal(await fingerprint(server, 'copy', 'orders_deleted', 't', 'order_id'), await fingerprint(server, 'shop', 'orders_deleted', 't', 'order_id'));
    assert.equal(await fingerprint(server, 'copy', 'customers'), await fingerprint(server, 'shop', '(SELECT * FROM customers WHERE deleted_at IS NULL)'),
      'the soft-deleted customer is gone from the copy');

    // A check the source does not have makes the next partial fail on orders: nothing of it stays.
    labels = partialLabels;
    await server.psql('copy', 'ALTER TABLE orders ADD CONSTRAINT small_orders CHECK (total < 5000)');
    await server.psql('shop', `UPDATE customers SET name = 'renamed', updated_at = clock_timestamp() WHERE id = 1;
      INSERT INTO orders VALUES (9000, 1, 9000, clock_timestamp());`);
    const failing = await dumpToFiles(config, work, join(folder, 'failing'), { partialSince: new PartialBase(Date.now(), labels) });
    const customersBefore = await fingerprint(server, 'copy', 'customers');
    const [result] = await loadRestoredDumps(config, failing, { ...loadInto('copy'), partial: true });
    assert.equal(result.ok, false);
    assert.match(result.error ?? '', /^load shop: table orders \(upsert\): loading into copy: .*psql exited with code 3\n.*violates check constraint "small_orders"/s);
    assert.equal(await fingerprint(server, 'copy', 'customers'), customersBefore, 'the customers upserted before orders were rolled back');
    await stat(failing[0].path); // kept for the operator
  });
});
