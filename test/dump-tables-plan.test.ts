// Proves the pure parts of the postgresql/mariadb sources without a server: storage.conf keys and
// their errors, the load order from foreign keys and `order =`, the table plan's checks against a
// catalog (a misspelt exclusion must fail, never dump the column), marks, and data.sql reading.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ConfigError, DumpFailedError, LoadFailedError } from '../src/common/errors';
import { storageConfigFromText, type DatabaseSource } from '../src/client/sources/storage-config';
import { loadOrder } from '../src/client/sources/tables/load-order';
import { planTables, type TablePlan } from '../src/client/sources/tables/table-plan';
import { markLabel, markOf } from '../src/client/sources/tables/marks';
import type { ColumnInfo, DatabaseCatalog, TableInfo } from '../src/client/sources/tables/catalog';
import { byteLines } from '../src/client/sources/tables/byte-lines';
import { readDataEvents, readDataHeader, type DataEvent } from '../src/client/sources/tables/data-reader';
import { parseLoadInto } from '../src/client/sources/load-into';
import { receivedLabels } from '../src/server/received-begin';

const SHOP = [
  'source = shop',
  'kind = postgresql',
  'database = shop',
  'socket = /run/postgresql',
  'port = 5433',
  'user = backup',
  'password_file = /etc/cpsbackup/shop.password',
  'exclude_tables = sessions, audit',
  'exclude_columns = customers.password_hash',
  'exclude_columns = customers.photo',
  'order = customers, orders',
  'since_field = customers.updated_at',
  'since_field = orders.id',
  'deletes_from = customers: customers_deleted.customer_id',
  'overlap_seconds = 60',
  'load_into = shop_staging',
];

function shopSource(extra: readonly string[] = [], base: readonly string[] = SHOP): DatabaseSource {
  return storageConfigFromText('storage.conf', [...base, ...extra].join('\n')).sources[0] as DatabaseSource;
}

const column = (name: string, valueClass: ColumnInfo['valueClass'] = 'text', extra: Partial<ColumnInfo> = {}): ColumnInfo =>
  ({ name, type: valueClass === 'time' ? 'timestamp with time zone' : valueClass, valueClass, isGenerated: false, isNullable: true, ...extra });

const table = (name: string, columns: ColumnInfo[], primaryKey: string[] = ['id'], parents: string[] = []): TableInfo =>
  ({ name, columns, primaryKey, parents, sequences: [] });

const CATALOG: DatabaseCatalog = {
  tables: [
    table('audit', [column('id', 'integer'), column('what')]),
    table('customers', [column('id', 'integer'), column('name'), column('password_hash', 'text', { isNullable: false }),
      column('photo', 'binary'), column('updated_at', 'time', { isNullable: false }), column('name_upper', 'text', { isGenerated: true })]),
    table('customers_deleted', [column('customer_id', 'integer'), column('deleted_at', 'time')], ['customer_id']),
    table('items', [column('order_id', 'integer'), column('line', 'integer'), column('product')], ['order_id', 'line'], ['orders']),
    table('orders', [column('id', 'integer', { isNullable: false }), column('customer_id', 'integer'), column('note')], ['id'], ['customers']),
    table('sessions', [column('token')], []),
  ],
};

test('storage.conf: every postgresql key is read into the source', () => {
  const source = shopSource();
  assert.equal(source.kind, 'postgresql');
  assert.equal(source.database, 'shop');
  assert.equal(source.socket, '/run/postgresql');
  assert.equal(source.port, 5433);
  assert.equal(source.user, 'backup');
  assert.equal(source.passwordFile, '/etc/cpsbackup/shop.password');
  assert.equal(source.schema, 'public');
  assert.deepEqual(source.tables, []);
  assert.deepEqual(source.excludeTables.map((entry) => entry.name), ['sessions', 'audit']);
  assert.deepEqual(source.excludeColumns.map((entry) => `${entry.table}.${entry.column}@${entry.line}`),
    ['customers.password_hash@9', 'customers.photo@10']);
  assert.deepEqual(source.order.map((entry) => entry.name), ['customers', 'orders']);
  assert.deepEqual(source.sinceFields.map((entry) => `${entry.table}.${entry.column}`), ['customers.updated_at', 'orders.id']);
  assert.deepEqual(source.deletesFrom, [{ table: 'customers', from: { table: 'customers_deleted', column: 'customer_id', line: 14 } }]);
  assert.equal(source.overlapSeconds, 60);
  assert.equal(source.overlapIds, 1000);
  assert.equal(source.loadInto, 'shop_staging');
  const maria = shopSource(['kind = mariadb', 'database = shop', 'host = db.example', 'tables = a, b'], ['source = shop']);
  assert.equal(maria.kind, 'mariadb');
  assert.deepEqual(maria.tables.map((entry) => entry.name), ['a', 'b']);
});

test('storage.conf: database source mistakes name the file and line', () => {
  const refused = (lines: string[], pattern: RegExp): void => {
    assert.throws(() => storageConfigFromText('storage.conf', lines.join('\n')), (error: unknown) => {
      assert.ok(error instanceof ConfigError, String(error));
      assert.match(error.message, pattern);
      return true;
    });
  };
  const base = ['source = shop', 'kind = postgresql', 'database = shop'];
  refused(['source = shop', 'kind = postgresql'], /^storage\.conf:1: source "shop" needs "database ="/);
  refused([...base, 'since_field = updated_at'], /^storage\.conf:4: since_field: expected table\.column, got "updated_at"/);
  refused([...base, 'since_field = a.x', 'since_field = a.y'], /^storage\.conf:5: since_field: table a already has one \(line 4\)/);
  refused([...base, 'deletes_from = a.b'], /^storage\.conf:4: deletes_from: expected "TABLE: TOMBSTONE_TABLE\.COLUMN"/);
  refused([...base, 'tables = a, a'], /^storage\.conf:4: tables: table a is listed twice/);
  refused([...base, 'port = 99999'], /^storage\.conf:4: port must be between 1 and 65535/);
  refused([...base, 'password_file = shop.pw'], /^storage\.conf:4: password_file must be absolute/);
  refused([...base, 'collection = x'], /^storage\.conf:4: "collection" does not apply to a source of kind postgresql/);
  refused(['source = shop', 'kind = mariadb', 'database = shop', 'schema = app'], /^storage\.conf:4: "schema" applies to PostgreSQL only/);
  refused(['source = shop', 'kind = oracle'], /^storage\.conf:2: kind must be command, sqlite, mongodb, postgresql or mariadb, got "oracle"/);
});

test('load order: parents before children from the foreign keys; `order` first; cycles broken by name', () => {
  const tables = [
    { name: 'items', parents: ['orders'] }, { name: 'orders', parents: ['customers'] }, { name: 'customers', parents: [] },
    { name: 'audit', parents: [] },
  ];
  assert.deepEqual(loadOrder(tables, []), ['audit', 'customers', 'orders', 'items']);
  assert.deepEqual(loadOrder(tables, ['items']), ['items', 'audit', 'customers', 'orders']);
  assert.deepEqual(loadOrder([{ name: 'b', parents: ['a'] }, { name: 'a', parents: ['b'] }], []), ['b', 'a']);
});

test('table plan: exclusions, since marks, tombstones and generated columns, in load order', () => {
  const source = shopSource();
  const complete = planTables(source, CATALOG, { isPartial: false });
  assert.deepEqual(complete.map((plan) => plan.table.name), ['customers', 'orders', 'customers_deleted', 'items']);
  const customers = complete[0];
  assert.deepEqual(customers.columns.map((entry) => entry.name), ['id', 'name', 'updated_at'], 'no excluded, no generated column');
  assert.deepEqual(customers.excludedColumns.map((entry) => entry.name), ['password_hash', 'photo']);
  assert.equal(customers.sinceColumn?.name, 'updated_at');
  assert.equal(customers.sinceMark, undefined, 'a complete backup dumps every row');
  assert.deepEqual(complete[2].tombstoneFor, { table: 'customers', column: 'customer_id' });

  const labels = { [markLabel('shop', 'customers', 'updated_at')]: '2026-01-02T03:04:05.123456+00:00', [markLabel('shop', 'orders', 'id')]: '41' };
  const partial = planTables(source, CATALOG, { isPartial: true, baseLabels: labels });
  assert.equal(partial[0].sinceMark, '2026-01-02T03:04:05.123456+00:00');
  assert.equal(partial[1].sinceMark, '41');
  assert.equal(partial[3].sinceMark, undefined, 'items has no since_field: dumped whole');
  const noBase = planTables(source, CATALOG, { isPartial: true });
  assert.equal(noBase[0].sinceMark, undefined, 'no base labels: every table whole, which is always safe');
  const softDelete = planTables(shopSource(['deletes_from = orders: orders.note']), CATALOG, { isPartial: false });
  assert.deepEqual(softDelete[1].softDelete, { column: 'note', when: 'set' });
});

test('table plan: a misspelt or impossible setting fails the dump, naming the line', () => {
  const refused = (extra: string[], pattern: RegExp): void => {
    assert.throws(() => planTables(shopSource(extra), CATALOG, { isPartial: false }), (error: unknown) => {
      assert.ok(error instanceof DumpFailedError, String(error));
      assert.match(error.message, pattern);
      return true;
    });
  };
  refused(['exclude_columns = customers.pasword_hash'], /^dump source shop: storage\.conf:17: exclude_columns: table customers has no column pasword_hash$/);
  refused(['exclude_columns = custmers.password_hash'], /storage\.conf:17: exclude_columns: no table custmers in schema public of database shop/);
  refused(['exclude_tables = sesions'], /storage\.conf:17: exclude_tables: no table sesions/);
  refused(['exclude_columns = orders.id'], /storage\.conf:17: exclude_columns: orders\.id is part of the primary key/);
  refused(['since_field = items.product'], /storage\.conf:17: since_field: items\.product is text; it must be a timestamp, a date or an increasing number/);
  refused(['since_field = audit.id'], /storage\.conf:17: since_field: table audit is not dumped/);
  refused(['since_field = sessions.token'], /storage\.conf:17: since_field: table sessions is not dumped/);
  refused(['deletes_from = items: customers_deleted.customer_id'], /deletes_from: table items needs a one-column primary key/);
  refused(['tables = customers, nothing'], /storage\.conf:17: tables: no table nothing/);
  assert.throws(() => planTables(shopSource(['order = items, audit'], SHOP.filter((line) => !line.startsWith('order'))), CATALOG, { isPartial: false }),
    /storage\.conf:16: order: table audit is not dumped/);
});

// Regression: rows whose since_field is NULL never match `>= mark` and were in no partial backup; then
// the refusal (3df4972) ran for complete plans too, and such a node lost its complete backups as well.
test('table plan: a nullable since_field is refused for a partial, naming table and column; a complete dumps every row', () => {
  const source = shopSource(['since_field = customers_deleted.deleted_at']);
  const complete = planTables(source, CATALOG, { isPartial: false });
  assert.equal(complete.find((plan) => plan.table.name === 'customers_deleted')?.sinceColumn?.name, 'deleted_at');
  for (const baseLabels of [undefined, { [markLabel('shop', 'customers_deleted', 'deleted_at')]: '2026-01-02T03:04:05Z' }]) {
    assert.throws(() => planTables(source, CATALOG, { isPartial: true, baseLabels }), (error: unknown) => {
      assert.ok(error instanceof DumpFailedError, String(error));
      assert.match(error.message,
        /^dump source shop: storage\.conf:17: since_field: customers_deleted\.deleted_at may be NULL, and a row where it is NULL would be in no partial backup/);
      return true;
    });
  }
});

// Regression: data.sql prints schema, table and column names raw in its COPY / INSERT lines, and a
// newline in one split a line that the loader read as a row.
test('table plan: a name with a control character is refused, quoted, wherever data.sql would print it', () => {
  const catalogWith = (tableName: string, columnName: string): DatabaseCatalog =>
    ({ tables: [table(tableName, [column('id', 'integer', { isNullable: false }), column(columnName)])] });
  const maria = shopSource([], ['source = shop', 'kind = mariadb', 'database = shop']);
  assert.throws(() => planTables(maria, catalogWith('a\rb', 'x'), { isPartial: false }), /storage\.conf:1: table "a\\x0db" has a control character/);
  assert.throws(() => planTables(maria, catalogWith('t', 'x\u007fy'), { isPartial: false }), /column "x\\x7fy" of table "t" has a control character/);
  const postgres = shopSource([], ['source = shop', 'kind = postgresql', 'database = shop', 'schema = odd\u0001schema']);
  assert.throws(() => planTables(postgres, catalogWith('t', 'x'), { isPartial: false }), /schema "odd\\x01schema" has a control character/);
  assert.equal(planTables(maria, catalogWith('tab le é', 'col umn'), { isPartial: false }).length, 1, 'spaces and letters are fine');
});

// Regression: the server keeps label keys with Unicode's Cc, Cf, Zl and Zp escaped (387b7c3), while only
// C0 controls and DEL were refused in names: a since_field table or column named with a soft hyphen,
// U+200F or a C1 control got its mark stored under an escaped key, and every partial silently dumped it whole.
test('table plan: a since_field table or column with a hidden character is refused for a partial, escaped', () => {
  const planOf = (tableName: string, columnName: string, isPartial: boolean): TablePlan[] => {
    const catalog: DatabaseCatalog = { tables: [table(tableName, [column('id', 'integer', { isNullable: false }),
      column(columnName, 'integer', { isNullable: false })])] };
    const source = shopSource([`since_field = ${tableName}.${columnName}`], ['source = shop', 'kind = mariadb', 'database = shop']);
    return planTables(source, catalog, { isPartial, baseLabels: { [markLabel('shop', tableName, columnName)]: '41' } });
  };
  const hidden: Array<[string, string]> = [['\u00ad', '\\\\xad'], ['\u200f', '\\\\u200f'], ['\u0085', '\\\\x85']];
  for (const [character, escaped] of hidden) {
    assert.throws(() => planOf(`or${character}ders`, 'seq', true), new RegExp(
      `dump source shop: storage\\.conf:4: since_field: table "or${escaped}ders" has a hidden character .* no partial would find its mark`));
    assert.throws(() => planOf('orders', `se${character}q`, true), new RegExp(
      `dump source shop: storage\\.conf:4: since_field: column "se${escaped}q" of table "orders" has a hidden character`));
    assert.equal(planOf(`or${character}ders`, `se${character}q`, false).length, 1, 'a complete dumps every row: nothing to refuse');
  }
  for (const name of ['café', '日本', 'طلبات', 'می\u200cخواهم', 'क्\u200dष']) {
    assert.equal(planOf(name, name, true)[0].sinceMark, '41', `${name}: its mark is found`);
    const key = markLabel('shop', name, name);
    assert.deepEqual(receivedLabels('client', { [key]: '41' }), { [key]: '41' }, `${name}: the server keeps its mark's key intact`);
  }
  assert.throws(() => storageConfigFromText('storage.conf', 'source = sh\u00adop\nkind = command\ndump = true\nload = cat\n'),
    /invalid source name "sh\\xadop"/, 'source names go into the same keys: ASCII only');
});

test('table plan: a partitioned table stands for its leaf partitions; a since_field on one, or a tree in two schemas, is refused', () => {
  const base = ['source = shop', 'kind = postgresql', 'database = shop'];
  const source = (lines: string[]): DatabaseSource => shopSource(lines, base);
  const columns = [column('id', 'integer'), column('region'), column('note', 'text', { isNullable: false })];
  const leaf = (name: string, partitionOf: string[]): TableInfo => ({ ...table(name, columns, ['id', 'region']), partitionOf });
  const catalog: DatabaseCatalog = {
    tables: [
      { ...table('orders', columns, ['id', 'region']), isPartitioned: true, partitionOf: [] },
      { ...table('orders_eu', columns, ['id', 'region']), isPartitioned: true, partitionOf: ['orders'] },
      leaf('orders_eu_new', ['orders_eu', 'orders']), leaf('orders_eu_old', ['orders_eu', 'orders']), leaf('orders_us', ['orders']),
      table('shipment', [column('order_id', 'integer'), column('region')], ['order_id'], ['orders']),
    ],
  };
  const planned = (lines: string[]): string[] => planTables(source(lines), catalog, { isPartial: false })
    .map((plan) => `${plan.table.name}${plan.excludedColumns.length > 0 ? `-${plan.excludedColumns.map((excluded) => excluded.name).join('')}` : ''}`);
  // No section for a partitioned table; a key to one puts each of its leaves first.
  assert.deepEqual(planned([]), ['orders_eu_new', 'orders_eu_old', 'orders_us', 'shipment']);
  assert.deepEqual(planned(['tables = orders_eu']), ['orders_eu_new', 'orders_eu_old']);
  assert.deepEqual(planned(['tables = orders_us, orders']), ['orders_eu_new', 'orders_eu_old', 'orders_us']);
  assert.deepEqual(planned(['exclude_tables = orders_eu']), ['orders_us', 'shipment']);
  assert.deepEqual(planned(['exclude_tables = orders', 'tables = orders_us, shipment']), ['shipment']);
  assert.deepEqual(planned(['tables = orders', 'exclude_columns = orders.note']), ['orders_eu_new-note', 'orders_eu_old-note', 'orders_us-note']);
  assert.deepEqual(planned(['order = shipment, orders_eu']), ['shipment', 'orders_eu_new', 'orders_eu_old', 'orders_us']);
  const refused = (lines: string[], pattern: RegExp): void => {
    assert.throws(() => planTables(source(lines), catalog, { isPartial: true }), (error: unknown) => {
      assert.ok(error instanceof DumpFailedError, String(error));
      assert.match(error.message, pattern);
      return true;
    });
  };
  refused(['since_field = orders.id'], /storage\.conf:4: since_field: table orders is partitioned: a row whose partition key is updated moves/);
  refused(['since_field = orders_us.id'], /since_field: table orders_us is a partition of orders:/);
  refused(['deletes_from = orders: orders_us.note'], /deletes_from: table orders is partitioned: it holds no rows of its own \(its partitions orders_eu_new, orders_eu_old, orders_us do\); name a partition/);
  refused(['exclude_columns = orders.region'], /exclude_columns: orders\.region is part of the primary key/);
  const elsewhere: DatabaseCatalog = { tables: [...catalog.tables, { ...leaf('orders_ap', ['orders']), partitionsElsewhere: ['"other"."orders_ap_2"'] }] };
  assert.throws(() => planTables(source(['tables = orders']), elsewhere, { isPartial: false }),
    /storage\.conf:4: table orders_ap is in a partition tree that reaches into another schema or server \("other"\."orders_ap_2"\)/);
});

test('marks: only values of the column\'s kind are used; anything else dumps the whole table', () => {
  const labels = {
    [markLabel('shop', 't', 'at')]: "2026-01-01 00:00:00'; DROP TABLE t; --",
    [markLabel('shop', 't', 'id')]: '12345678901234567890',
    [markLabel('shop', 't', 'day')]: '2026-01-01',
  };
  assert.equal(markOf(labels, 'shop', 't', 'at', true), undefined);
  assert.equal(markOf(labels, 'shop', 't', 'id', false), '12345678901234567890');
  assert.equal(markOf(labels, 'shop', 't', 'id', true), undefined);
  assert.equal(markOf(labels, 'shop', 't', 'day', true), '2026-01-01');
  assert.equal(markOf(labels, 'shop', 'other', 'id', false), undefined);
});

test('--load-into: NAME for every database source, SOURCE=NAME for one; a non-database source is refused', () => {
  const storage = storageConfigFromText('storage.conf', [...SHOP, 'source = files', 'kind = command', 'dump = tar c /srv', 'load = tar x'].join('\n'));
  assert.deepEqual(parseLoadInto(['staging'], storage), { database: 'staging', bySource: new Map() });
  assert.deepEqual(parseLoadInto(['shop=staging'], storage), { database: undefined, bySource: new Map([['shop', 'staging']]) });
  assert.throws(() => parseLoadInto(['files=x'], storage), /no postgresql or mariadb source "files"/);
  assert.throws(() => parseLoadInto(['a', 'b'], storage), /names two databases/);
});

test('byte lines: lines split across chunks come out whole and unchanged, a last line without newline too', async () => {
  const text = Buffer.from('first\nsecond é\n\nthird\\.\nlast', 'utf8');
  const chunks = [text.subarray(0, 3), text.subarray(3, 9), text.subarray(9, 10), text.subarray(10)];
  const lines: string[] = [];
  for await (const line of byteLines(Readable.from(chunks))) lines.push(line.toString('utf8'));
  assert.deepEqual(lines, ['first', 'second é', '', 'third\\.', 'last']);
});

test('data.sql reader: events in order; a truncated or misshapen file is refused with its line', async () => {
  const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-data-reader-'));
  try {
    const header = '-- cpsbackup-data {"kind":"postgresql","source":"shop","database":"shop","schema":"public","backup":"partial","tables":[]}';
    const section = '-- cpsbackup-table {"table":"t","columns":["id"],"primaryKey":["id"],"rows":"all"}';
    const good = join(folder, 'good.sql');
    await writeFile(good, [header, section, 'COPY "public"."t" ("id") FROM stdin;', '1', '-- cpsbackup-table {}', '\\.',
      '-- cpsbackup-end {"tables":1}', ''].join('\n'));
    assert.equal((await readDataHeader('shop', good)).backup, 'partial');
    const events: DataEvent[] = [];
    for await (const event of readDataEvents('shop', good, 'postgresql')) events.push(event);
    assert.deepEqual(events.map((event) => (event.type === 'row' ? `row ${event.bytes.toString()}` : event.type)),
      ['table', 'row 1', 'row -- cpsbackup-table {}', 'end'], 'inside COPY rows, only \\. ends the table');

    const truncated = join(folder, 'truncated.sql');
    await writeFile(truncated, [header, section, 'COPY "public"."t" ("id") FROM stdin;', '1', ''].join('\n'));
    await assert.rejects(readDataHeader('shop', truncated), (error: unknown) =>
      error instanceof LoadFailedError && /truncated\.sql does not end with "-- cpsbackup-end": the dump is truncated/.test(error.message));
    const stray = join(folder, 'stray.sql');
    await writeFile(stray, [header.replace('postgresql', 'mariadb'), "INSERT INTO `t` (`id`) VALUES (1);", '-- cpsbackup-end {"tables":0}'].join('\n'));
    await assert.rejects(async () => {
      for await (const event of readDataEvents('shop', stray, 'mariadb')) assert.ok(event);
    }, /stray\.sql:2: a row before any table header/);
    await assert.rejects(readDataHeader('shop', join(folder, 'good.sql').replace('good', 'missing')), /ENOENT/);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
});
