// The end-to-end scenario of a postgresql or mariadb source through the real CLI and server:
// complete and partial backups of a shop with a secret column and two kinds of since_field, the
// secret absent from the stored dump, the chain loaded into a second database until it equals the
// first, the source untouched, and a receiver whose failing load stops at the table it names.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox, type CommandResult } from './sandbox';
import { sectionRows } from './dump-tables';
import { SHOP_TABLES, type ShopDatabase } from './shop-tables';

interface Listed {
  id: number;
  kind: string;
  labels: Record<string, string>;
}

function exited(result: CommandResult, code: number, what: string): CommandResult {
  assert.equal(result.code, code, `${what} exited ${result.code ?? result.signal}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  return result;
}

export async function runShopScenario(shop: ShopDatabase): Promise<void> {
  const sandbox = await Sandbox.create();
  try {
    await sandbox.addClient('replica', ['restore_client = node1']);
    await sandbox.startServer();
    await shop.createShop();
    const source = [
      'source = shop', `kind = ${shop.kind}`, 'database = shop', ...shop.connectionLines,
      'exclude_columns = customers.password_hash',
      'since_field = customers.updated_at', 'since_field = orders.id',
      'overlap_seconds = 0', 'overlap_ids = 10',
    ];
    const storage = join(sandbox.root, 'storage.conf');
    await writeFile(storage, `${source.join('\n')}\n`);
    const config = await sandbox.writeNodeConfig('node1', [`storage_conf = ${storage}`]);
    const cli = (...args: string[]): Promise<CommandResult> => sandbox.runClient(['-c', config, ...args]);
    const listed = async (): Promise<Listed[]> => JSON.parse(exited(await cli('-l', '--json'), 0, '-l').stdout) as Listed[];
    const dumpFolder = join(sandbox.root, 'work', 'node1', 'dumps', 'shop');
    const checksums = (database: string): Promise<string[]> =>
      Promise.all(SHOP_TABLES.map(({ table, columns, key }) => shop.checksum(database, table, columns, key)));
    const withSecret = (): Promise<string> => shop.checksum('shop', 'customers', ['id', 'password_hash'], 'id');

    // 1. A complete backup: marks of both since_fields in its labels; the secret is not in what was stored.
    exited(await cli('-e'), 0, '-e');
    const [complete] = await listed();
    const customersMark = complete.labels['mark.shop.customers.updated_at'];
    assert.match(customersMark, /^2024-01-02[T ]09:20:00/, 'customer 2000 was updated last, 2000 minutes into 2024');
    assert.equal(complete.labels['mark.shop.orders.id'], '5000');
    const stored = join(sandbox.root, 'stored');
    exited(await cli('-i', String(complete.id), '--no-load', '--to', stored), 0, '-i --no-load --to');
    const storedData = await readFile(join(stored, dumpFolder, 'data.sql'), 'utf8');
    assert.match(storedData, /customer 17\b/, 'the restored dump holds the customers');
    assert.doesNotMatch(storedData, /secret-hash|password_hash.*VALUES|password_hash"\)/, 'but not one password hash');
    assert.match(await readFile(join(stored, dumpFolder, 'schema.sql'), 'utf8'), /password_hash/, 'the column itself is in the schema');
    // MariaDB: its triggers too, in a file of their own (created after the rows), and its routines and events (routines.jsonl).
    const completeFiles = shop.kind === 'mariadb' ? 4 : 2;
    assert.equal(sectionRows(storedData, 'items').length, 10000);

    // 2. Two partial backups: each table from its own mark; items, without since_field, whole.
    await shop.change(1);
    const changedCustomers = Number(await shop.sql('shop', `SELECT count(*) FROM customers WHERE updated_at >= '${customersMark}'`));
    assert.equal(changedCustomers, 80);
    exited(await cli('-e', '--partial'), 0, 'first -e --partial');
    await shop.change(2);
    exited(await cli('-e', '--partial'), 0, 'second -e --partial');
    const backups = await listed();
    assert.deepEqual(backups.map((backup) => backup.kind), ['complete', 'partial', 'partial']);
    assert.equal(backups[1].labels['mark.shop.orders.id'], '5300');
    assert.equal(backups[2].labels['mark.shop.orders.id'], '5600');
    const partialFiles = join(sandbox.root, 'partial');
    exited(await cli('-i', String(backups[1].id), '--no-load', '--to', partialFiles), 0, '-i partial --no-load');
    const partialData = await readFile(join(partialFiles, dumpFolder, 'data.sql'), 'utf8');
    assert.equal(sectionRows(partialData, 'customers').length, changedCustomers, 'customers changed since the complete dump\'s mark');
    assert.equal(sectionRows(partialData, 'orders').length, 311, 'orders 4990 to 5300: past the id mark minus overlap_ids');
    assert.equal(sectionRows(partialData, 'items').length, 10580, 'items whole: 10000 + 600 new - 20 deleted');

    // 3. The chain (complete, partial, partial) loaded into a second database: equal but for the secret; shop untouched.
    const sourceBefore = [...await checksums('shop'), await withSecret()];
    assert.match(exited(await cli('-i', '--no-load', '--load-into', 'x'), 2, '--load-into with --no-load').stderr, /--load-into goes with -i \(and not with --no-load\)/);
    assert.match(exited(await cli('-i', '--load-into', 'files=x'), 2, '--load-into of an unknown source').stderr, /no postgresql or mariadb source "files"/);
    const loaded = exited(await cli('-i', '--load-into', 'shop_copy'), 0, '-i --load-into shop_copy');
    assert.equal((loaded.stdout.match(/^loaded shop from /gm) ?? []).length, completeFiles + 2, 'the complete dump\'s files, then one data.sql per partial');
    assert.deepEqual(await checksums('shop_copy'), await checksums('shop'), 'every table equal (customers without password_hash)');
    assert.equal(await shop.sql('shop_copy', 'SELECT count(*) FROM customers WHERE password_hash IS NOT NULL'), '0');
    assert.deepEqual([...await checksums('shop'), await withSecret()], sourceBefore, 'the source database is untouched');

    // 4. A receiver loads the same chain into its own database (load_into), then a failing load stops it.
    const replicaStorage = join(sandbox.root, 'replica-storage.conf');
    await writeFile(replicaStorage, `${[...source, 'load_into = shop_replica'].join('\n')}\n`);
    const replicaConfig = await sandbox.writeNodeConfig('replica', [`storage_conf = ${replicaStorage}`]);
    const receive = (): Promise<CommandResult> => sandbox.runClient(['-c', replicaConfig, '-i', '--client', 'node1', '--if-new']);
    const appliedId = async (): Promise<number> =>
      (JSON.parse(await readFile(join(sandbox.root, 'state', 'replica', 'receive', 'node1.json'), 'utf8')) as { backupId: number }).backupId;
    assert.match(exited(await receive(), 0, 'first receive').stdout, new RegExp(`^Received backups 1, 2, 3 of node1: ${completeFiles + 2} dumps loaded`, 'm'));
    assert.deepEqual(await checksums('shop_replica'), await checksums('shop'));

    await shop.addCheck('shop_replica');
    await shop.addOrder(5000);
    exited(await cli('-e', '--partial'), 0, 'third -e --partial');
    await shop.change(3);
    exited(await cli('-e', '--partial'), 0, 'fourth -e --partial');
    const replicaBefore = await checksums('shop_replica');
    const failed = exited(await receive(), 3, 'receive with a check the replica alone has');
    assert.match(failed.stderr, /load of shop from partial backup 4 failed, .*data\.sql kept: load shop: table orders \(upsert\): loading into shop_replica/);
    assert.match(failed.stderr, /small_orders/);
    assert.doesNotMatch(failed.stderr, /backup 5/, 'backup 5 was not tried on top of the failure');
    assert.equal(await appliedId(), 3, 'nothing recorded: the next run retries');
    assert.deepEqual(await checksums('shop_replica'), replicaBefore, 'the failed partial changed nothing, customers included');
    await shop.dropCheck('shop_replica');
    assert.match(exited(await receive(), 0, 'receive retried').stdout, /^Received backups 4, 5 of node1: 2 dumps loaded/m);
    assert.equal(await appliedId(), 5);
    assert.deepEqual(await checksums('shop_replica'), await checksums('shop'));
    console.log(`${shop.kind} shop: complete + 4 partials; copy and replica equal per table: ${(await checksums('shop')).join(' | ')}`);
  } finally {
    await sandbox.destroy();
  }
}
