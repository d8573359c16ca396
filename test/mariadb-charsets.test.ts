// Regression: MariaDB text was rendered through QUOTE() inside a utf8mb4 CONCAT, so every other
// character set was converted on the way: an sjis column holding byte 5C came back as 815F (exit 0),
// and a table with a utf16 column, or latin1 beside cp1250, failed the backup ("Illegal mix of
// collations"). Text outside utf8mb4 now goes as _charset X'hex': every value comes back byte for byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadRestoredDumps } from '../src/client/sources/loaders';
import { storageConfigFromText } from '../src/client/sources/storage-config';
import { mariadbSkipReason, withMariadbServer } from './support/mariadb';
import { dumpToFiles } from './support/dump-to-files';

const skip = mariadbSkipReason();
if (skip !== undefined) console.log(`mariadb-charsets skipped: ${skip}`);

const ROWS = "SELECT id, IFNULL(HEX(j), 'null'), IFNULL(HEX(w), 'null'), IFNULL(HEX(l), 'null'), IFNULL(HEX(c), 'null'), IFNULL(HEX(u), 'null'), "
  + "IFNULL(HEX(m), 'null') FROM texts ORDER BY id";

test('text in sjis, utf16, latin1 beside cp1250 and utf8mb4 round-trips byte for byte', { skip }, async () => {
  await withMariadbServer('cpsbackup-maria-charsets-', async (server, folder) => {
    await server.query('mysql', `SET NAMES utf8mb4; CREATE DATABASE shop CHARACTER SET utf8mb4; USE shop;
      CREATE TABLE texts (id INT PRIMARY KEY, j VARCHAR(20) CHARACTER SET sjis, w TEXT CHARACTER SET utf16, l VARCHAR(20) CHARACTER SET latin1,
        c VARCHAR(20) CHARACTER SET cp1250, u VARCHAR(20) CHARACTER SET utf8mb4, m ENUM('ä', 'ö') CHARACTER SET latin1);
      INSERT INTO texts VALUES (1, X'5C', _utf16 X'00E9D83DDE42', X'80E9', X'8A9A', '🙂 é', 'ö'),
        (2, X'955C27', _utf16 X'005C0027000A', X'5C270A0D', X'9A5C', 'a\\\\b''c', 'ä'),
        (3, NULL, NULL, NULL, NULL, NULL, NULL), (4, '', '', '', '', '', 'ä');`);
    const config = storageConfigFromText('storage.conf', ['source = shop', 'kind = mariadb', 'database = shop', `socket = ${server.socket}`, 'user = root'].join('\n'));
    const restored = await dumpToFiles(config, join(folder, 'work'), join(folder, 'restore'));
    assert.deepEqual((await loadRestoredDumps(config, restored, { loadInto: { database: 'copy', bySource: new Map() } })).map((result) => result.error ?? 'ok'), ['ok', 'ok', 'ok', 'ok']);
    const before = await server.query('shop', ROWS);
    assert.match(before, /^1\t5C\t00E9D83DDE42\t80E9\t8A9A\t/);
    assert.equal(await server.query('copy', ROWS), before);
  });
});
