// Proves a MariaDB round trip through a FIFO dump source against a real server:
// mariadb-dump (one transaction) streamed out, the database dropped, mariadb loads it back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { startDumps } from '../src/client/sources/dump-run';
import { loadRestoredDumps } from '../src/client/sources/loaders';
import { storageConfigFromText } from '../src/client/sources/storage-config';
import { mariadbSkipReason, startMariadb, type MariadbServer } from './support/mariadb';

const skip = mariadbSkipReason();
if (skip !== undefined) console.log(`dump-mariadb skipped: ${skip}`);
// GROUP_CONCAT is cut at 1 KiB by default, which would hide differences past the first rows.
const FINGERPRINT = "SET SESSION group_concat_max_len = 1073741824; " +
  "SELECT COUNT(*), MD5(GROUP_CONCAT(id, name, HEX(photo), joined ORDER BY id SEPARATOR '|')) FROM customers";

test('mariadb-dump through a FIFO, then mariadb after the database is dropped: rows identical', { skip }, async () => {
  const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-dump-maria-'));
  let server: MariadbServer | undefined;
  try {
    server = await startMariadb();
    await server.query('mysql', `
      CREATE DATABASE shop CHARACTER SET utf8mb4;
      USE shop;
      CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, photo VARBINARY(32), joined DATETIME) ENGINE=InnoDB;
      INSERT INTO customers SELECT seq, CONCAT('customer ', seq, ' é€'), UNHEX(MD5(seq)), '2020-01-01' + INTERVAL seq HOUR FROM seq_1_to_20000;`);
    const before = await server.query('shop', FINGERPRINT);
    const config = storageConfigFromText('storage.conf', [
      'source = shop',
      'kind = command',
      `dump = ${server.dumpPath} ${server.connection} --single-transaction --databases shop`,
      `load = ${server.clientPath} ${server.connection}`,
      `version_command = ${server.clientPath} ${server.connection} -N -e 'SELECT VERSION()'`,
    ].join('\n'));
    const work = join(folder, 'work');
    const run = await startDumps(config, work);
    assert.match(run.labels['version.shop'], /MariaDB/);
    const restored = await Promise.all(run.files.map(async (file) => {
      const path = join(folder, 'restore', relative(work, file.path));
      await mkdir(dirname(path), { recursive: true });
      await pipeline(run.openDump(file), createWriteStream(path));
      return { path, sourceName: file.sourceName };
    }));
    await run.finish();
    assert.ok((await stat(restored[0].path)).size > 100_000);
    await server.query('mysql', 'DROP DATABASE shop');
    const results = await loadRestoredDumps(config, restored);
    assert.deepEqual(results, [{ sourceName: 'shop', path: restored[0].path, ok: true }]);
    assert.equal(await server.query('shop', FINGERPRINT), before);
    await assert.rejects(stat(restored[0].path), { code: 'ENOENT' });
  } finally {
    await server?.stop();
    await rm(folder, { recursive: true, force: true });
  }
});
