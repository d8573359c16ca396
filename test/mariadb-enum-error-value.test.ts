// Regression: an ENUM column holding its error value '' (index 0, which MariaDB stores for an unknown
// value under a non-strict sql_mode) was dumped as '' and `-e` exited 0, but no load could take it:
// the loader runs STRICT_ALL_TABLES ("Data truncated"), so the whole dump was refused at restore. The
// dump now fails, naming the table, the row's key and the column; '' declared as a member still loads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadRestoredDumps } from '../src/client/sources/loaders';
import { storageConfigFromText } from '../src/client/sources/storage-config';
import { DumpFailedError } from '../src/common/errors';
import { mariadbSkipReason, withMariadbServer } from './support/mariadb';
import { dumpToFiles } from './support/dump-to-files';

const skip = mariadbSkipReason();
if (skip !== undefined) console.log(`mariadb-enum-error-value skipped: ${skip}`);

test('an ENUM error value fails the dump naming table, key and column; an empty member round-trips', { skip }, async () => {
  await withMariadbServer('cpsbackup-maria-enum-', async (server, folder) => {
    await server.query('mysql', `CREATE DATABASE shop; USE shop;
      CREATE TABLE moods (id INT PRIMARY KEY, mood ENUM('ok', 'sad'), maybe ENUM('', 'yes') NOT NULL);
      INSERT INTO moods VALUES (1, 'ok', ''), (2, NULL, 'yes'), (3, 'sad', '');`);
    const config = storageConfigFromText('storage.conf', ['source = shop', 'kind = mariadb', 'database = shop', `socket = ${server.socket}`, 'user = root'].join('\n'));
    const restored = await dumpToFiles(config, join(folder, 'work'), join(folder, 'restore'));
    assert.deepEqual((await loadRestoredDumps(config, restored, { loadInto: { database: 'copy', bySource: new Map() } })).map((result) => result.error ?? 'ok'), ['ok', 'ok', 'ok', 'ok']);
    const rows = 'SELECT id, IFNULL(mood, \'null\'), mood + 0, maybe, maybe + 0 FROM moods ORDER BY id';
    assert.equal(await server.query('copy', rows), await server.query('shop', rows));

    await server.query('shop', "SET SESSION sql_mode = ''; INSERT INTO moods VALUES (4, 'angry', 'yes')");
    assert.equal(await server.query('shop', 'SELECT CONCAT(\'[\', mood, \']\', mood + 0) FROM moods WHERE id = 4'), '[]0');
    await assert.rejects(dumpToFiles(config, join(folder, 'work'), join(folder, 'again')), (error: unknown) => {
      assert.ok(error instanceof DumpFailedError);
      assert.match(error.message, /table moods: row 4 \(`id` = 4\) holds ENUM's error value '' \(index 0\) in `mood`/);
      return true;
    });
  });
});
