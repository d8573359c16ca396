// Proves a MariaDB round trip through the real CLI and server: mariadb-dump through a FIFO,
// drop the database, `cpsbackup -i` loads it back with identical rows; figures for a 1% re-dump.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox, type CommandResult } from './support/sandbox';
import { mariadbSkipReason, startMariadb, type MariadbServer } from './support/mariadb';

const skip = mariadbSkipReason();
if (skip !== undefined) console.log(`e2e-dump-mariadb skipped: ${skip}`);
const ROWS = 100_000;
const FINGERPRINT = `SELECT COUNT(*), MD5(GROUP_CONCAT(CONCAT_WS(',', id, name, HEX(photo), price, joined) ORDER BY id SEPARATOR '|')) FROM customers`;

interface Listed {
  id: number;
  logicalBytes: number;
  newBytes: number;
  storedBytes: number;
  labels: Record<string, string>;
}

function ok(result: CommandResult, what: string): CommandResult {
  assert.equal(result.code, 0, `${what} exited ${result.code ?? result.signal}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  return result;
}

const mebibytes = (bytes: number): string => `${(bytes / 1048576).toFixed(2)} MiB`;

test('mariadb-dump through the CLI: drop the database, -i loads it back identical; a 1% re-dump dedups', { skip }, async () => {
  const sandbox = await Sandbox.create();
  let server: MariadbServer | undefined;
  try {
    await sandbox.startServer();
    server = await startMariadb();
    // GROUP_CONCAT is cut at group_concat_max_len; the fingerprint must see every row.
    await server.query('mysql', `
      SET GLOBAL group_concat_max_len = 1073741824;
      CREATE DATABASE shop CHARACTER SET utf8mb4;
      USE shop;
      CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, photo VARBINARY(32), price DECIMAL(12,2), joined DATETIME) ENGINE=InnoDB;
      INSERT INTO customers SELECT seq, CONCAT('customer ', seq, ' é€'), UNHEX(MD5(seq)), seq * 0.37, '2020-01-01' + INTERVAL seq MINUTE FROM seq_1_to_${ROWS};`);
    const storage = join(sandbox.root, 'storage.conf');
    await writeFile(storage, [
      'source = shop',
      'kind = command',
      `dump = ${server.dumpPath} ${server.connection} --single-transaction --databases shop`,
      `load = ${server.clientPath} ${server.connection}`,
      `version_command = ${server.clientPath} ${server.connection} -N -e 'SELECT VERSION()'`,
      '',
    ].join('\n'));
    const config = await sandbox.writeNodeConfig('node1', [`storage_conf = ${storage}`]);
    const cli = (...args: string[]): Promise<CommandResult> => sandbox.runClient(['-c', config, ...args]);
    const listed = async (): Promise<Listed[]> => JSON.parse(ok(await cli('-l', '--json'), '-l --json').stdout) as Listed[];

    const before = await server.query('shop', FINGERPRINT);
    ok(await cli('-e'), '-e');
    const [first] = await listed();
    assert.match(first.labels['version.shop'], /MariaDB/);
    assert.match(ok(await cli('-s', String(first.id)), '-s').stdout, /^dump .*\/dumps\/shop\/dump$/m);

    await server.query('mysql', 'DROP DATABASE shop');
    const restored = ok(await cli('-i'), '-i');
    assert.match(restored.stdout, /loaded shop from /);
    assert.equal(await server.query('shop', FINGERPRINT), before);
    await assert.rejects(stat(join(sandbox.root, 'work', 'node1', 'dumps', 'shop', 'dump')), { code: 'ENOENT' });

    await server.query('shop', 'UPDATE customers SET price = price + 1 WHERE id % 100 = 0');
    ok(await cli('-e'), '-e after 1% scattered changes');
    await server.query('shop', `UPDATE customers SET price = price + 1 WHERE id BETWEEN 50001 AND ${50000 + ROWS / 100}`);
    ok(await cli('-e'), '-e after 1% clustered changes');
    const [, scattered, clustered] = await listed();
    for (const [name, backup] of [['first dump', first], ['1% scattered', scattered], ['1% clustered', clustered]] as const) {
      console.log(`e2e-dump-mariadb: ${ROWS} rows, ${name}: dump ${mebibytes(backup.logicalBytes)}, new ${mebibytes(backup.newBytes)} `
        + `(${(100 * backup.newBytes / backup.logicalBytes).toFixed(1)}%), stored ${mebibytes(backup.storedBytes)}`);
    }
    assert.ok(clustered.newBytes < clustered.logicalBytes / 2, 'a clustered 1% change stores well under half the dump again');
  } finally {
    await server?.stop();
    await sandbox.destroy();
  }
});
