// Regression: a MariaDB row whose rendered INSERT line passed the server's max_allowed_packet (a 9 MB
// blob is 18 MB of hex) came out of CONCAT as NULL with only a warning; the client wrote the line
// `NULL`, `-e` exited 0, and the load then refused the whole dump. Now such a row fails the dump,
// naming its table and primary key, and every row that fits (9 MB of text, 6 MB of binary) round-trips
// byte for byte, also when it follows a batch of smaller rows in the loader.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadRestoredDumps } from '../src/client/sources/loaders';
import { storageConfigFromText, type StorageConfig } from '../src/client/sources/storage-config';
import { DumpFailedError } from '../src/common/errors';
import { mariadbSkipReason, withMariadbServer, type MariadbServer } from './support/mariadb';
import { dumpToFiles } from './support/dump-to-files';

const skip = mariadbSkipReason();
if (skip !== undefined) console.log(`mariadb-large-rows skipped: ${skip}`);

function sourceConfig(server: MariadbServer): StorageConfig {
  return storageConfigFromText('storage.conf', ['source = crm', 'kind = mariadb', 'database = crm', `socket = ${server.socket}`, 'user = root'].join('\n'));
}

const DIGEST = 'SET SESSION group_concat_max_len = 1048576; SELECT GROUP_CONCAT(CONCAT_WS(\',\', id, IFNULL(MD5(b), \'null\'), IFNULL(LENGTH(b), \'-\'), IFNULL(MD5(t), \'null\'), IFNULL(LENGTH(t), \'-\')) ORDER BY id SEPARATOR \';\') FROM big';

test('rows up to the server\'s max_allowed_packet round-trip; a larger one fails the dump naming table and key', { skip }, async () => {
  await withMariadbServer('cpsbackup-maria-large-', async (server, folder) => {
    await server.query('mysql', `CREATE DATABASE crm CHARACTER SET utf8mb4; USE crm;
      CREATE TABLE big (id INT PRIMARY KEY, b LONGBLOB, t LONGTEXT);
      INSERT INTO big VALUES (1, 'small', 'small');
      INSERT INTO big SELECT seq, REPEAT(UNHEX('00FF5C27'), 50000), REPEAT('é\\'', 100000) FROM seq_10_to_14;
      INSERT INTO big VALUES (20, NULL, CONCAT(REPEAT('x', 9000000), '\\n\\r')), (21, REPEAT(UNHEX('5C0A'), 3000000), NULL), (30, 'after', 'after');`);
    const config = sourceConfig(server);
    const before = await server.query('crm', DIGEST);
    const restored = await dumpToFiles(config, join(folder, 'work'), join(folder, 'restore'));
    const results = await loadRestoredDumps(config, restored, { loadInto: { database: 'crm_copy', bySource: new Map() } });
    assert.deepEqual(results.map((result) => result.error ?? 'ok'), ['ok', 'ok', 'ok', 'ok']);
    assert.equal(await server.query('crm_copy', DIGEST), before);

    await server.query('crm', 'INSERT INTO big VALUES (2, REPEAT(\'x\', 9000000), NULL)');
    await assert.rejects(dumpToFiles(config, join(folder, 'work'), join(folder, 'again')), (error: unknown) => {
      assert.ok(error instanceof DumpFailedError);
      assert.match(error.message, /table big: row 2 \(`id` = 2\) is larger than the server's max_allowed_packet \(16777216 bytes\) as an INSERT line/);
      return true;
    });

    // With the server's max_allowed_packet raised, the 9 MB blob and a 20 MB text load too.
    await server.query('mysql', 'SET GLOBAL max_allowed_packet = 67108864');
    await server.query('crm', 'INSERT INTO big VALUES (3, NULL, REPEAT(\'y\', 20000000))');
    const larger = await server.query('crm', DIGEST);
    const whole = await dumpToFiles(config, join(folder, 'work'), join(folder, 'larger'));
    const loaded = await loadRestoredDumps(config, whole, { loadInto: { database: 'crm_larger', bySource: new Map() } });
    assert.deepEqual(loaded.map((result) => result.error ?? 'ok'), ['ok', 'ok', 'ok', 'ok']);
    assert.equal(await server.query('crm_larger', DIGEST), larger);
  });
});
