// Regression: a MariaDB load fired the dumped schema's triggers on the restored rows (a BEFORE INSERT
// trigger changed them, an AFTER INSERT one added audit rows), into a new database and over an existing
// copy alike, and exited 0; and a self-referencing foreign key (or a cycle of two tables) whose rows
// reference later rows failed the load (ERROR 1452) and its DELETE over a copy (ERROR 1451). Rows now
// load as dumped, the triggers come back exactly (definition, sql_mode, charset, order), and a row left
// referencing nothing fails the load naming table, constraint and key, with the triggers still there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadRestoredDumps, type RestoredDump } from '../src/client/sources/loaders';
import { storageConfigFromText, type StorageConfig } from '../src/client/sources/storage-config';
import { mariadbSkipReason, withMariadbServer, type MariadbServer } from './support/mariadb';
import { dumpToFiles } from './support/dump-to-files';
import { PartialBase } from '../src/client/sources/partial-base';
import { SET_ASIDE_TABLE } from '../src/client/sources/mariadb/mariadb-load-triggers';

const skip = mariadbSkipReason();
if (skip !== undefined) console.log(`mariadb-load-triggers skipped: ${skip}`);

const TABLES = ['audit', 'items', 'players', 'teams'];
const TRIGGERS = ['items_first', 'items_name', 'items_price', 'items_audit'];

const SCHEMA = `CREATE TABLE audit (id INT AUTO_INCREMENT PRIMARY KEY, item_id INT, note VARCHAR(40)) ENGINE=InnoDB;
  CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(40), price INT, parent_id INT, updated_at DATETIME(6) NOT NULL DEFAULT '2024-01-01',
    CONSTRAINT fk_items_parent FOREIGN KEY (parent_id) REFERENCES items (id)) ENGINE=InnoDB;
  CREATE TABLE teams (id INT PRIMARY KEY, captain_id INT) ENGINE=InnoDB;
  CREATE TABLE players (id INT PRIMARY KEY, team_id INT, CONSTRAINT fk_players_team FOREIGN KEY (team_id) REFERENCES teams (id)) ENGINE=InnoDB;
  ALTER TABLE teams ADD CONSTRAINT fk_teams_captain FOREIGN KEY (captain_id) REFERENCES players (id);
  CREATE TRIGGER items_name BEFORE INSERT ON items FOR EACH ROW SET NEW.name = UPPER(NEW.name);
  SET SESSION sql_mode = 'ANSI_QUOTES';
  CREATE TRIGGER items_price before insert ON items FOR EACH ROW SET NEW.price = NEW.price * 2;
  SET SESSION sql_mode = DEFAULT;
  CREATE TRIGGER items_first BEFORE INSERT ON items FOR EACH ROW PRECEDES items_name SET NEW.name = CONCAT(NEW.name, '!');
  CREATE TRIGGER items_audit AFTER INSERT ON items FOR EACH ROW INSERT INTO audit (item_id, note) VALUES (NEW.id, 'inserted é');
  SET SESSION foreign_key_checks = 0;
  INSERT INTO items (id, name, price, parent_id) VALUES (1, 'chair', 10, 3), (2, 'table', 20, 1), (3, 'room', 30, NULL);
  INSERT INTO teams VALUES (1, 10), (2, 11);
  INSERT INTO players VALUES (10, 1), (11, 2);`;

function sourceConfig(server: MariadbServer, database = 'shop'): StorageConfig {
  return storageConfigFromText('storage.conf', ['source = shop', 'kind = mariadb', `database = ${database}`, `socket = ${server.socket}`, 'user = root',
    'since_field = items.updated_at'].join('\n'));
}

/** Every row of every table, and each trigger's SHOW CREATE TRIGGER but its Created time, and the triggers' order. */
async function contents(server: MariadbServer, database: string): Promise<Record<string, string>> {
  const seen: Record<string, string> = {};
  for (const table of TABLES) seen[table] = await server.query(database, `SELECT * FROM ${table} ORDER BY id`);
  for (const trigger of TRIGGERS) seen[trigger] = (await server.query(database, `SHOW CREATE TRIGGER ${trigger}`)).split('\t').slice(0, -1).join('\t');
  seen.order = await server.query(database, 'SELECT TRIGGER_NAME, ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER FROM information_schema.TRIGGERS '
    + 'WHERE TRIGGER_SCHEMA = DATABASE() ORDER BY EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER');
  seen.tables = await server.query(database, 'SELECT GROUP_CONCAT(TABLE_NAME ORDER BY TABLE_NAME) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()');
  return seen;
}

async function load(config: StorageConfig, dumps: RestoredDump[], database: string): Promise<string[]> {
  const results = await loadRestoredDumps(config, dumps, { loadInto: { database, bySource: new Map() } });
  return results.map((result) => result.error ?? 'ok');
}

test('a load fires no trigger, re-creates them exactly, and loads rows referencing later rows, new or over a copy', { skip }, async () => {
  await withMariadbServer('cpsbackup-maria-triggers-', async (server, folder) => {
    await server.query('mysql', 'CREATE DATABASE shop');
    await server.query('shop', SCHEMA);
    const config = sourceConfig(server);
    let source = await contents(server, 'shop');
    assert.match(source.items, /^1\tCHAIR!\t20\t3\t.*\n2\tTABLE!\t40\t1\t.*\n3\tROOM!\t60\tNULL\t/, 'the source rows went through the triggers once');
    assert.equal(source.audit.split('\n').length, 3);

    assert.deepEqual(await load(config, await dumpToFiles(config, join(folder, 'work'), join(folder, 'new')), 'copy'), ['ok', 'ok']);
    assert.deepEqual(await contents(server, 'copy'), source, 'into a new database: rows as dumped, no audit row added, triggers equal');

    const labels: Record<string, string> = {};
    assert.deepEqual(await load(config, await dumpToFiles(config, join(folder, 'work'), join(folder, 'again'), { labels }), 'copy'), ['ok', 'ok']);
    assert.deepEqual(await contents(server, 'copy'), source, 'over the copy: rows as dumped, no audit row added, triggers equal');

    await server.query('shop', "SET SESSION foreign_key_checks = 0; INSERT INTO items (id, name, price, parent_id, updated_at) VALUES (4, 'desk', 5, 5, NOW(6)), (5, 'shelf', 7, NULL, NOW(6))");
    source = await contents(server, 'shop');
    const partial = await dumpToFiles(config, join(folder, 'work'), join(folder, 'partial'), { partialSince: new PartialBase(Date.now(), labels) });
    const results = await loadRestoredDumps(config, partial, { loadInto: { database: 'copy', bySource: new Map() }, partial: true });
    assert.deepEqual(results.map((result) => result.error ?? 'ok'), ['ok']);
    assert.deepEqual(await contents(server, 'copy'), source, 'a partial load: rows as dumped, no audit row added, triggers equal');

    // A table the dump does not hold references a row the load would delete: the load fails, the copy is as it was.
    await server.query('copy', `CREATE TABLE notes (id INT PRIMARY KEY, item_id INT, CONSTRAINT fk_notes_item FOREIGN KEY (item_id) REFERENCES items (id)) ENGINE=InnoDB;
      SET SESSION foreign_key_checks = 0; INSERT INTO items (id, name, price) VALUES (7, 'lamp', 5); SET SESSION foreign_key_checks = 1; INSERT INTO notes VALUES (1, 7);`);
    const before = await contents(server, 'copy');
    const [failed] = await load(config, await dumpToFiles(config, join(folder, 'work'), join(folder, 'failing')), 'copy');
    assert.match(failed, /table copy\.notes has a row \(item_id = 7\) whose foreign key fk_notes_item references no row of items; the load is rolled back/);
    assert.deepEqual(await contents(server, 'copy'), before, 'a failed load changes no row and leaves every trigger');
  });
});

test('a load killed with triggers set aside leaves them in a table the next load re-creates them from; a failed new load leaves them too', { skip }, async () => {
  await withMariadbServer('cpsbackup-maria-triggers-', async (server, folder) => {
    await server.query('mysql', 'CREATE DATABASE shop');
    await server.query('shop', SCHEMA);
    const config = sourceConfig(server);
    const source = await contents(server, 'shop');
    assert.deepEqual(await load(config, await dumpToFiles(config, join(folder, 'work'), join(folder, 'new')), 'copy'), ['ok', 'ok']);

    // What a load killed between its DROP TRIGGERs and their re-creation leaves: the record, one trigger gone.
    const [, sqlMode, statement, characterSet, collation] = (await server.query('copy', 'SHOW CREATE TRIGGER items_audit')).split('\t');
    const literal = (text: string): string => `'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
    await server.query('copy', `CREATE TABLE ${SET_ASIDE_TABLE} (trigger_name VARCHAR(64) NOT NULL PRIMARY KEY, table_name VARCHAR(64) NOT NULL,
      action_timing VARCHAR(16) NOT NULL, event_manipulation VARCHAR(16) NOT NULL, action_order BIGINT NOT NULL, sql_mode TEXT NOT NULL,
      character_set_client VARCHAR(64) NOT NULL, collation_connection VARCHAR(64) NOT NULL, statement LONGTEXT NOT NULL) DEFAULT CHARSET=utf8mb4;
      INSERT INTO ${SET_ASIDE_TABLE} VALUES ('items_audit', 'items', 'AFTER', 'INSERT', 1, ${[sqlMode, characterSet, collation, statement].map(literal).join(', ')});
      DROP TRIGGER items_audit;`);
    assert.deepEqual(await load(config, await dumpToFiles(config, join(folder, 'work'), join(folder, 'again')), 'copy'), ['ok', 'ok']);
    assert.deepEqual(await contents(server, 'copy'), source, 'the trigger the killed load dropped is back, the record gone');

    // A row referencing nothing (dumped so: the source's checks were off) fails a load into a new database after its schema.
    await server.query('shop', 'SET SESSION foreign_key_checks = 0; INSERT INTO teams VALUES (3, 99)');
    const [failed] = await load(config, await dumpToFiles(config, join(folder, 'work'), join(folder, 'orphan')), 'fresh');
    assert.match(failed, /table fresh\.teams has a row \(captain_id = 99\) whose foreign key fk_teams_captain references no row of players/);
    const empty = await contents(server, 'fresh');
    assert.deepEqual([empty.audit, empty.items, empty.players, empty.teams], ['', '', '', ''], 'rolled back');
    for (const name of [...TRIGGERS, 'order']) assert.equal(empty[name], source[name], `${name}: as schema.sql made it, though the load failed`);
    assert.equal(empty.tables, TABLES.join(','), `no ${SET_ASIDE_TABLE} left`);
  });
});
