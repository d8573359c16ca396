// Regression: a MariaDB load ran with foreign_key_checks = 1, so a self-referencing foreign key whose
// rows reference later rows (a child given a smaller id than its parent), or a cycle of two tables,
// failed a load into a new database (ERROR 1452) and a load over a copy at its DELETE (ERROR 1451).
// The rows now load with the checks off, as mysqldump's do, and are checked once in: a row left
// referencing nothing fails the load, naming table, constraint and key, and changes nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadRestoredDumps, type RestoredDump } from '../src/client/sources/loaders';
import { storageConfigFromText, type StorageConfig } from '../src/client/sources/storage-config';
import { mariadbSkipReason, withMariadbServer, type MariadbServer } from './support/mariadb';
import { dumpToFiles } from './support/dump-to-files';
import { PartialBase } from '../src/client/sources/partial-base';

const skip = mariadbSkipReason();
if (skip !== undefined) console.log(`mariadb-load-foreign-keys skipped: ${skip}`);

const TABLES = ['items', 'players', 'teams'];

async function rows(server: MariadbServer, database: string): Promise<string[]> {
  return Promise.all(TABLES.map((table) => server.query(database, `SELECT * FROM ${table} ORDER BY id`)));
}

async function load(config: StorageConfig, dumps: RestoredDump[], database: string): Promise<string[]> {
  const results = await loadRestoredDumps(config, dumps, { loadInto: { database, bySource: new Map() } });
  return results.map((result) => result.error ?? 'ok');
}

test('rows referencing later rows of their table or of a cycle load, new and over a copy; a row left referencing nothing fails the load', { skip }, async () => {
  await withMariadbServer('cpsbackup-maria-keys-', async (server, folder) => {
    await server.query('mysql', 'CREATE DATABASE shop');
    await server.query('shop', `CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(40), parent_id INT, updated_at DATETIME(6) NOT NULL DEFAULT '2024-01-01',
        CONSTRAINT fk_items_parent FOREIGN KEY (parent_id) REFERENCES items (id)) ENGINE=InnoDB;
      CREATE TABLE teams (id INT PRIMARY KEY, captain_id INT) ENGINE=InnoDB;
      CREATE TABLE players (id INT PRIMARY KEY, team_id INT, CONSTRAINT fk_players_team FOREIGN KEY (team_id) REFERENCES teams (id)) ENGINE=InnoDB;
      ALTER TABLE teams ADD CONSTRAINT fk_teams_captain FOREIGN KEY (captain_id) REFERENCES players (id);
      SET SESSION foreign_key_checks = 0;
      INSERT INTO items (id, name, parent_id) VALUES (1, 'chair', 3), (2, 'table', 1), (3, 'room', NULL);
      INSERT INTO teams VALUES (1, 10), (2, 11);
      INSERT INTO players VALUES (10, 1), (11, 2);`);
    const config = storageConfigFromText('storage.conf', ['source = shop', 'kind = mariadb', 'database = shop', `socket = ${server.socket}`, 'user = root',
      'since_field = items.updated_at'].join('\n'));
    let source = await rows(server, 'shop');

    assert.deepEqual(await load(config, await dumpToFiles(config, join(folder, 'work'), join(folder, 'new')), 'copy'), ['ok', 'ok', 'ok', 'ok'], 'into a new database');
    assert.deepEqual(await rows(server, 'copy'), source);
    const labels: Record<string, string> = {};
    assert.deepEqual(await load(config, await dumpToFiles(config, join(folder, 'work'), join(folder, 'again'), { labels }), 'copy'), ['ok', 'ok', 'ok', 'ok'], 'over the copy');
    assert.deepEqual(await rows(server, 'copy'), source);

    await server.query('shop', "SET SESSION foreign_key_checks = 0; INSERT INTO items VALUES (4, 'desk', 5, NOW(6)), (5, 'shelf', NULL, NOW(6))");
    source = await rows(server, 'shop');
    const partial = await dumpToFiles(config, join(folder, 'work'), join(folder, 'partial'), { partialSince: new PartialBase(Date.now(), labels) });
    const results = await loadRestoredDumps(config, partial, { loadInto: { database: 'copy', bySource: new Map() }, partial: true });
    assert.deepEqual(results.map((result) => result.error ?? 'ok'), ['ok'], 'a partial load over the copy');
    assert.deepEqual(await rows(server, 'copy'), source);

    // A table the dump does not hold references a row the load deletes: the load fails, the copy is as it was.
    await server.query('copy', `CREATE TABLE notes (id INT PRIMARY KEY, item_id INT, CONSTRAINT fk_notes_item FOREIGN KEY (item_id) REFERENCES items (id)) ENGINE=InnoDB;
      INSERT INTO items (id, name) VALUES (7, 'lamp'); INSERT INTO notes VALUES (1, 7);`);
    const before = await rows(server, 'copy');
    const [failed] = await load(config, await dumpToFiles(config, join(folder, 'work'), join(folder, 'failing')), 'copy');
    assert.match(failed, /check foreign keys: .*table copy\.notes has a row \(item_id = 7\) whose foreign key fk_notes_item references no row of items; the load is rolled back/s);
    assert.deepEqual(await rows(server, 'copy'), before, 'rolled back');
  });
});
