// Regression: a MariaDB source's schema.sql held its CREATE TRIGGERs beside the CREATE TABLEs, so a load
// into an empty database created the triggers before the rows and every trigger fired on every loaded
// row: a BEFORE INSERT trigger changed the rows restored, an AFTER INSERT audit trigger added rows to its
// log table, and the load exited 0. Then (review of 5407c21) triggers.sql, mariadb-dump's text run through
// the mariadb client: a body whose string held `*/ ;; GRANT ...` ran that GRANT as the loading user, a
// comment on the CREATE line failed every load, a trigger created as shop.t ON shop.items went to the
// source's database on a load into another. The triggers are now data (triggers.jsonl, bodies in hex),
// created after the rows' commit by statements we build, sent as hex, each under its own sql_mode and charset.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { loadRestoredDumps, type RestoredDump } from '../src/client/sources/loaders';
import { storageConfigFromText, type StorageConfig } from '../src/client/sources/storage-config';
import { mariadbSkipReason, withMariadbServer, type MariadbServer } from './support/mariadb';
import { assertDumpRefused, dumpToFiles } from './support/dump-to-files';
import { dataHeaderProblem } from '../src/client/sources/tables/data-header-check';
import { triggerBodyOf, triggerRecordProblem } from '../src/client/sources/mariadb/mariadb-triggers';

const skip = mariadbSkipReason();
if (skip !== undefined) console.log(`mariadb-load-triggers skipped: ${skip}`);

/** A line `DELIMITER ;` and semicolons inside a string of a trigger's body: only a lexer of SQL knows they are text. */
const TRICKY_NOTE = "added;\nDELIMITER ;\nDROP TABLE item_log; SELECT ''x'';;";

const SOURCE_SCHEMA = `
CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(60) NOT NULL, price INT NOT NULL) ENGINE=InnoDB;
CREATE TABLE item_log (id INT AUTO_INCREMENT PRIMARY KEY, item_id INT NOT NULL, note TEXT NOT NULL) ENGINE=InnoDB;
DELIMITER //
CREATE TRIGGER items_mark BEFORE INSERT ON items FOR EACH ROW BEGIN SET NEW.name = CONCAT(NEW.name, '!'); SET NEW.price = NEW.price * 2; END//
CREATE TRIGGER items_first BEFORE INSERT ON items FOR EACH ROW PRECEDES items_mark SET NEW.price = NEW.price + 1//
CREATE TRIGGER items_log AFTER INSERT ON items FOR EACH ROW INSERT INTO item_log (item_id, note) VALUES (NEW.id, '${TRICKY_NOTE}')//
DELIMITER ;
SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES,ANSI_QUOTES';
CREATE TRIGGER items_rename BEFORE UPDATE ON items FOR EACH ROW SET NEW.name = CONCAT(NEW.name, 'a\\b');
SET SESSION sql_mode = DEFAULT;
CREATE TRIGGER items_note BEFORE DELETE ON items FOR EACH ROW /* F2: a comment on the CREATE line */ SET @deleted = OLD.id /* kept */;
CREATE TRIGGER shop.items_qualified AFTER UPDATE ON shop.items FOR EACH ROW SET @updated = NEW.id -- named with its database
;
INSERT INTO items VALUES (1, 'chair', 10), (2, 'table', 20);
UPDATE items SET price = 7 WHERE id = 1;
`;

const TRIGGERS_QUERY = (database: string): string => 'SELECT TRIGGER_NAME, EVENT_MANIPULATION, EVENT_OBJECT_TABLE, ACTION_ORDER, ACTION_TIMING, '
  + 'HEX(ACTION_STATEMENT), SQL_MODE, DEFINER, CHARACTER_SET_CLIENT, COLLATION_CONNECTION, DATABASE_COLLATION FROM information_schema.TRIGGERS '
  + `WHERE TRIGGER_SCHEMA = '${database}' ORDER BY EVENT_OBJECT_TABLE, EVENT_MANIPULATION, ACTION_TIMING, ACTION_ORDER`;

/** Runs SQL through the mariadb client's stdin (DELIMITER is one of its commands, not SQL), comments passed on to the server. */
async function runSql(server: MariadbServer, database: string, sql: string): Promise<void> {
  const child = spawn(server.clientPath, [`--socket=${server.socket}`, '--user=root', '--batch', '--comments', `--database=${database}`],
    { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  child.stdin.end(sql);
  const code = await new Promise((resolve) => child.once('close', resolve));
  assert.equal(code, 0, `mariadb: ${stderr}`);
}

async function rows(server: MariadbServer, database: string): Promise<string[]> {
  return [await server.query(database, 'SELECT * FROM items ORDER BY id'), await server.query(database, 'SELECT * FROM item_log ORDER BY id')];
}

async function triggers(server: MariadbServer, database: string): Promise<string> {
  return server.query('mysql', TRIGGERS_QUERY(database));
}

async function showCreate(server: MariadbServer, database: string, trigger: string): Promise<string> {
  // Columns: Trigger, sql_mode, SQL Original Statement, character_set_client, collation_connection, Database Collation, Created.
  // The statement's head is ours (names quoted, no database), its body the source's: the body is compared in TRIGGERS_QUERY.
  const [, sqlMode, , charset, collation, databaseCollation] = (await server.query(database, `SHOW CREATE TRIGGER ${trigger}`)).split('\t');
  return [sqlMode, charset, collation, databaseCollation].join('\t');
}

async function load(config: StorageConfig, dumps: readonly RestoredDump[], database: string): Promise<string[]> {
  const results = await loadRestoredDumps(config, dumps, { loadInto: { database, bySource: new Map() } });
  return results.map((result) => result.error ?? result.notApplied ?? 'ok');
}

/**
 * A dump as the code before triggers.sql wrote it: schema.sql by mariadb-dump --no-data with its default --triggers,
 * no hasTriggersFile (nor hasRoutinesFile) in data.sql's header; triggers.jsonl and routines.jsonl still beside it (the caller removes them).
 */
async function oldFormatDumps(server: MariadbServer, config: StorageConfig, work: string, to: string): Promise<RestoredDump[]> {
  const dumps = await dumpToFiles(config, work, to);
  const [schema, data] = dumps.map((dump) => dump.path);
  const oldSchema = await new Promise<Buffer>((resolve, reject) => {
    const child = spawn(server.dumpPath, [`--socket=${server.socket}`, '--user=root', '--no-data', '--skip-add-drop-table', '--single-transaction',
      '--skip-comments', '--no-tablespaces', '--default-character-set=utf8mb4', 'shop'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.once('close', (code) => (code === 0 ? resolve(Buffer.concat(chunks)) : reject(new Error(`mariadb-dump exited ${code}`))));
  });
  await writeFile(schema, oldSchema);
  await writeFile(data, (await readFile(data, 'utf8')).replace(',"hasTriggersFile":true', '').replace(',"hasRoutinesFile":true', ''));
  return dumps;
}

const configOf = (server: MariadbServer, extra: readonly string[] = []): StorageConfig => storageConfigFromText('storage.conf',
  ['source = shop', 'kind = mariadb', 'database = shop', `socket = ${server.socket}`, 'user = root', ...extra].join('\n'));

test('a fresh load: rows and audit rows as in the source, no trigger fired on them; the triggers come back byte for byte and fire', { skip }, async () => {
  await withMariadbServer('cpsbackup-maria-triggers-', async (server, folder) => {
    await server.query('mysql', 'CREATE DATABASE shop');
    await runSql(server, 'shop', SOURCE_SCHEMA);
    const config = configOf(server);
    const source = await rows(server, 'shop');
    assert.match(source[0], /chair!a\\\\b/, 'the source\'s own rows went through its triggers (the NO_BACKSLASH_ESCAPES one too)');
    const dumps = await dumpToFiles(config, join(folder, 'work'), join(folder, 'fresh'));
    const schema = await readFile(dumps[0].path, 'utf8');

    // The load's session sets its own sql_mode, and triggers.sql each trigger's: the server's global one changes nothing.
    await server.query('mysql', "SET GLOBAL sql_mode = 'NO_BACKSLASH_ESCAPES,ANSI_QUOTES'");
    const loaded = await load(config, dumps, 'copy');
    await server.query('mysql', 'SET GLOBAL sql_mode = DEFAULT');
    assert.equal(await server.query('copy', "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_NAME = 'items_qualified' AND TRIGGER_SCHEMA = 'copy'"), '1',
      'the trigger named with its source database, in the target');
    assert.deepEqual(await rows(server, 'copy'), source, 'rows and audit rows as in the source: no trigger fired on a loaded row');
    assert.deepEqual(dumps.map((dump) => basename(dump.path)), ['schema.sql', 'data.sql', 'triggers.jsonl', 'routines.jsonl']);
    assert.doesNotMatch(schema, /TRIGGER/, 'schema.sql holds no trigger');
    assert.deepEqual(loaded, ['ok', 'ok', 'ok', 'ok']);
    assert.equal(await triggers(server, 'copy'), await triggers(server, 'shop'), 'every trigger: statement, order, sql_mode, charset, definer');
    assert.equal(await server.query('mysql', "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'shop'"), '6', 'none added to the source');
    assert.match(Buffer.from((await triggers(server, 'copy')).split('\n').find((line) => line.startsWith('items_note'))?.split('\t')[5] ?? '', 'hex').toString(),
      /^SET @deleted = OLD\.id \/\* kept \*\/$/, 'the comment of the body kept');
    for (const trigger of ['items_mark', 'items_first', 'items_log', 'items_rename', 'items_note', 'items_qualified']) {
      assert.equal(await showCreate(server, 'copy', trigger), await showCreate(server, 'shop', trigger), `SHOW CREATE TRIGGER ${trigger}`);
    }
    for (const file of dumps) await assert.rejects(stat(file.path), { code: 'ENOENT' }, `${basename(file.path)} removed once loaded`);

    // They work: a new row and an update fire them as in the source.
    for (const database of ['shop', 'copy']) await server.query(database, "INSERT INTO items VALUES (3, 'lamp', 5); UPDATE items SET price = 1 WHERE id = 2");
    assert.deepEqual(await rows(server, 'copy'), await rows(server, 'shop'), 'the triggers fire on new rows as in the source');
    assert.equal(Buffer.from(await server.query('copy', 'SELECT HEX(note) FROM item_log WHERE item_id = 3'), 'hex').toString(),
      TRICKY_NOTE.replaceAll("''", "'"), 'the string with its DELIMITER line and semicolons, as written');

    // Over existing tables the target's triggers stay and fire (no DISABLE TRIGGER in MariaDB); the dump's are not created, and the load says so.
    const again = await dumpToFiles(configOf(server, ['tables = items']), join(folder, 'work'), join(folder, 'again'));
    const logRows = Number(await server.query('copy', 'SELECT COUNT(*) FROM item_log'));
    await server.query('copy', 'DROP TRIGGER items_note');
    const [schemaLoad, dataLoad, triggersLoad] = await load(config, again, 'copy');
    assert.deepEqual([schemaLoad, dataLoad], ['ok', 'ok'], 'a load over the tables');
    assert.match(triggersLoad, /^not applied: the tables existed in copy, which keeps its own triggers .*the dump's triggers were not created/);
    assert.doesNotMatch(await triggers(server, 'copy'), /items_note/, 'not created: the target kept its own');
    await runSql(server, 'copy', 'CREATE TRIGGER items_note BEFORE DELETE ON items FOR EACH ROW /* F2: a comment on the CREATE line */ SET @deleted = OLD.id /* kept */;');
    assert.equal(await triggers(server, 'copy'), await triggers(server, 'shop'), 'the target\'s triggers, as they were');
    assert.equal(Number(await server.query('copy', 'SELECT COUNT(*) FROM item_log')), logRows + 3, 'their audit trigger fired on each loaded row (documented)');
  });
});

test('a new dump without its triggers.jsonl is refused; a trigger that fails fails the load, naming it, its rows committed', { skip }, async () => {
  await withMariadbServer('cpsbackup-maria-triggers-', async (server, folder) => {
    await server.query('mysql', 'CREATE DATABASE shop');
    await runSql(server, 'shop', SOURCE_SCHEMA);
    const config = configOf(server);
    const source = await rows(server, 'shop');

    const lost = (await dumpToFiles(config, join(folder, 'work'), join(folder, 'lost'))).filter((dump) => basename(dump.path) !== 'triggers.jsonl');
    const [refused] = await load(config, lost, 'lost');
    assert.match(refused, /complete dump whose triggers are in triggers\.jsonl: restore it beside data\.sql/);
    assert.equal(await server.query('mysql', "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'lost'"), '0', 'nothing created');

    // Trigger names are per database: one of another table there already holds items_log.
    await server.query('mysql', 'CREATE DATABASE clash');
    await server.query('clash', 'CREATE TABLE other (id INT PRIMARY KEY); CREATE TRIGGER items_log BEFORE INSERT ON other FOR EACH ROW SET NEW.id = NEW.id');
    const dumps = await dumpToFiles(config, join(folder, 'work'), join(folder, 'clash'));
    const failed = await load(config, dumps, 'clash');
    assert.equal(failed.length, 4);
    assert.match(failed[0], /^load shop: triggers\.jsonl, after the commit: trigger items_log on items: loading into clash: .* exited with code 1\n.*items_log.* already exists/s);
    assert.match(failed[0], /their rows committed before the triggers.*drop those tables and load again/s);
    assert.deepEqual(await rows(server, 'clash'), source, 'the rows are in, no trigger fired on them');
    assert.match(await server.query('mysql', "SELECT GROUP_CONCAT(TRIGGER_NAME ORDER BY TRIGGER_NAME) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'clash'"),
      /^items_first,items_log,items_mark,items_note,items_rename$/, 'the triggers before the failing one (BEFORE ones first), and the one that was there');
    for (const file of dumps) await stat(file.path); // kept
  });
});

test('an older dump (its triggers in schema.sql, no triggers.jsonl) loads as before: the triggers fire on the loaded rows', { skip }, async () => {
  await withMariadbServer('cpsbackup-maria-triggers-', async (server, folder) => {
    await server.query('mysql', 'CREATE DATABASE shop');
    await runSql(server, 'shop', SOURCE_SCHEMA);
    // Never loaded from an old schema.sql: a comment in a trigger's CREATE line (the client ended mariadb-dump's /*!50003
    // at its */), one named with its database into another (created there, or "already exists").
    await server.query('shop', 'DROP TRIGGER items_note; DROP TRIGGER items_qualified');
    const config = configOf(server);
    const dumps = await oldFormatDumps(server, config, join(folder, 'work'), join(folder, 'old'));
    const oldSchema = await readFile(dumps[0].path);
    assert.match(oldSchema.toString(), /CREATE\*\/ .* TRIGGER items_log/, 'the old schema.sql holds the triggers');
    const newTriggers = dumps.find((dump) => basename(dump.path) === 'triggers.jsonl');
    if (newTriggers !== undefined) {
      // A triggers.sql beside an old data.sql is not of that dump.
      const [mixed] = await load(config, dumps, 'mixed');
      assert.match(mixed, /triggers\.jsonl is beside a data\.sql whose dump has no triggers file \(its schema\.sql holds its triggers\)/);
      await unlink(newTriggers.path);
    }
    // So is a routines.jsonl: an old dump has none (it left routines out).
    const [mixedRoutines] = await load(config, [dumps[0], dumps[1], dumps[3]], 'mixed');
    assert.match(mixedRoutines, /routines\.jsonl is beside a data\.sql whose dump has no routines file: not of this dump/);
    await unlink(dumps[3].path);
    assert.deepEqual(await load(config, dumps.slice(0, 2), 'old'), ['ok', 'ok']);
    assert.equal(await triggers(server, 'old'), await triggers(server, 'shop'), 'the triggers, from schema.sql');
    const [items, log] = await rows(server, 'old');
    assert.match(items, /^1\tchair!a\\\\b!\t16$/m, 'as before: the triggers fired on the loaded rows');
    assert.equal(log.split('\n').length, 4, 'as before: the audit trigger logged each loaded row again');
  });
});

test('hasTriggersFile: true on a complete mariadb header only (a sender\'s header cannot ask for it elsewhere)', () => {
  const header = { kind: 'mariadb', source: 'shop', database: 'shop', backup: 'complete', tables: [] };
  assert.equal(dataHeaderProblem({ ...header, hasTriggersFile: true }), undefined);
  assert.equal(dataHeaderProblem(header), undefined, 'a dump from before triggers.sql');
  for (const wrong of [{ ...header, hasTriggersFile: 'yes' }, { ...header, hasTriggersFile: false }, { ...header, backup: 'partial', hasTriggersFile: true },
    { ...header, kind: 'postgresql', hasTriggersFile: true }]) {
    assert.equal(dataHeaderProblem(wrong), 'hasTriggersFile is not true on a complete mariadb dump', JSON.stringify(wrong));
  }
});

// F1 of the review of 5407c21, as written: a comment, then a string holding a comment end, two ;; and a GRANT.
const INJECTING_TRIGGER = "CREATE TRIGGER t_inj BEFORE INSERT ON items FOR EACH ROW SET NEW.price = 1 /* a */ + "
  + "LENGTH(' */ */ ;; GRANT ALL ON *.* TO `eve`@`%` WITH GRANT OPTION ;; SELECT 1 /* ');";

test('a trigger whose string holds `*/ ;; GRANT ...`: created with its body whole, nothing of it run by the load (an old dump fails closed)', { skip }, async () => {
  await withMariadbServer('cpsbackup-maria-triggers-', async (server, folder) => {
    await server.query('mysql', "CREATE DATABASE shop; CREATE USER eve@'%'");
    await runSql(server, 'shop', 'CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(60) NOT NULL, price INT NOT NULL) ENGINE=InnoDB;\n'
      + "INSERT INTO items VALUES (1, 'chair', 10);\n" + INJECTING_TRIGGER);
    const config = configOf(server);
    const grantsOfEve = (): Promise<string> => server.query('mysql', "SHOW GRANTS FOR eve@'%'");
    const usage = await grantsOfEve();
    assert.match(usage, /^GRANT USAGE ON \*\.\* TO `eve`@`%`$/);

    const dumps = await dumpToFiles(config, join(folder, 'work'), join(folder, 'fresh'));
    const loaded = await load(config, dumps, 'copy');
    assert.equal(await grantsOfEve(), usage, 'eve holds what she held: the GRANT in the string did not run');
    assert.deepEqual(loaded, ['ok', 'ok', 'ok', 'ok']);
    assert.equal(await triggers(server, 'copy'), await triggers(server, 'shop'), 'the trigger with its body byte for byte');
    assert.match(Buffer.from((await triggers(server, 'copy')).split('\t')[5], 'hex').toString(), /GRANT ALL ON \*\.\* TO `eve`@`%` WITH GRANT OPTION ;; SELECT 1 \/\* '\)$/);
    assert.equal(await server.query('copy', 'SELECT * FROM items'), '1\tchair\t10', 'the row as dumped: the trigger did not fire on it');

    // A dump from before triggers.jsonl: mariadb-dump's text, through the client with --comments: the load fails, eve gets nothing.
    const old = await oldFormatDumps(server, config, join(folder, 'work'), join(folder, 'old'));
    assert.match((await readFile(old[0].path)).toString(), /TRIGGER t_inj .*GRANT ALL/, 'the old schema.sql holds the trigger');
    await unlink(old[2].path);
    const [failed] = await load(config, old.slice(0, 2), 'old');
    assert.match(failed, /^load shop: schema: loading into old: .* exited with code 1\n.*ERROR 1064/s);
    assert.equal(await grantsOfEve(), usage, 'eve holds what she held: the old dump failed closed');
  });
});

// Regression (review, real MariaDB 10.11): trigger bodies were read from information_schema.TRIGGERS.ACTION_STATEMENT,
// which is not the trigger's text: its escapes undone, its charset introducers dropped. `SET NEW.note = 'C:\\new'` loaded
// as C:<LF>ew. The body is now SHOW CREATE TRIGGER's, as written.
const TRIGGER_BODIES = `
CREATE TABLE notes (id INT PRIMARY KEY, note VARCHAR(40) CHARSET utf8mb4, hits INT) ENGINE=InnoDB;
CREATE TRIGGER notes_path BEFORE INSERT ON notes FOR EACH ROW SET NEW.note = IF(NEW.note = '', 'C:\\\\new', NEW.note);
CREATE TRIGGER /* a head comment */ shop.notes_digits BEFORE INSERT ON shop.notes FOR EACH ROW FOLLOWS notes_path
  SET NEW.hits = (NEW.note REGEXP '\\\\d') + LENGTH(_latin1 X'E9') * 10;
SET NAMES latin1;
CREATE TRIGGER notes_cyrillic BEFORE UPDATE ON notes FOR EACH ROW SET NEW.note = _utf8mb4'\u0436';
SET NAMES utf8mb4;
`;

test('a trigger\'s body comes back as written: backslash escapes, a REGEXP, charset introducers, a latin1 trigger; it fires as in the source', { skip }, async () => {
  await withMariadbServer('cpsbackup-maria-triggers-', async (server, folder) => {
    await server.query('mysql', 'CREATE DATABASE shop');
    await runSql(server, 'shop', SOURCE_SCHEMA + TRIGGER_BODIES);
    const config = configOf(server);
    const dumps = await dumpToFiles(config, join(folder, 'work'), join(folder, 'bodies'));
    assert.deepEqual(await load(config, dumps, 'copy'), ['ok', 'ok', 'ok', 'ok']);
    assert.equal(await triggers(server, 'copy'), await triggers(server, 'shop'), 'every trigger: statement, order, sql_mode, charset, definer');
    const fire = 'INSERT INTO notes VALUES (1, \'\', 0), (2, \'x7\', 0); UPDATE notes SET hits = hits + 1 WHERE id = 2; SELECT id, HEX(note), hits FROM notes ORDER BY id';
    const fired = await server.query('shop', fire);
    assert.equal(fired, `1\t${Buffer.from('C:\\new').toString('hex').toUpperCase()}\t10\n2\tD0B6\t12`, 'the source\'s triggers, as written');
    assert.equal(await server.query('copy', fire), fired, 'the copy\'s fire as the source\'s');
  });
});

test('a dumping user without TRIGGER on the tables is refused (information_schema would hide their triggers), naming what to grant', { skip }, async () => {
  await withMariadbServer('cpsbackup-maria-triggers-', async (server, folder) => {
    await server.query('mysql', 'CREATE DATABASE shop');
    await runSql(server, 'shop', SOURCE_SCHEMA);
    await server.query('mysql', "CREATE USER dumper@localhost; GRANT SELECT, SHOW VIEW, LOCK TABLES ON shop.* TO dumper@localhost; "
      + "CREATE USER lister@localhost; GRANT SELECT ON shop.items TO lister@localhost; GRANT SELECT, TRIGGER ON shop.item_log TO lister@localhost");
    const as = (user: string, extra: readonly string[] = []): StorageConfig => storageConfigFromText('storage.conf',
      ['source = shop', 'kind = mariadb', 'database = shop', `socket = ${server.socket}`, `user = ${user}`, ...extra].join('\n'));
    await assertDumpRefused(as('dumper'), join(folder, 'work'), 'shop',
      /user dumper@localhost holds no TRIGGER privilege on every table of database shop.*grant TRIGGER ON `shop`\.\* TO 'dumper'@'localhost'/);
    await assertDumpRefused(as('lister', ['tables = items, item_log']), join(folder, 'work'), 'shop',
      /user lister@localhost holds no TRIGGER privilege on table items of database shop/);
    await server.query('mysql', 'GRANT TRIGGER ON shop.items TO lister@localhost');
    const dumps = await dumpToFiles(as('lister', ['tables = items, item_log']), join(folder, 'work'), join(folder, 'listed'));
    assert.equal((await readFile(dumps[2].path, 'utf8')).split('\n').length, 7, 'the six triggers, one a line');
  });
});

test('triggers.jsonl records are another client\'s words: each field of its type and spelling, its table one the dump loads', () => {
  const record = { name: 'n', table: 'items', timing: 'BEFORE', event: 'INSERT', order: 1, statementHex: '5345542040613D31', sqlMode: 'STRICT_TRANS_TABLES,ANSI_QUOTES',
    definer: 'root@localhost', characterSetClient: 'utf8mb4', collationConnection: 'utf8mb4_general_ci', databaseCollation: 'latin1_swedish_ci' };
  const tables = new Set(['items']);
  assert.equal(triggerRecordProblem(record, tables), undefined);
  // Regression (review): MYSQL40 / MYSQL323 were refused at load, their digits outside the pattern.
  assert.equal(triggerRecordProblem({ ...record, sqlMode: 'MYSQL323,HIGH_NOT_PRECEDENCE' }, tables), undefined);
  for (const [wrong, problem] of [[{ table: 'other' }, /table "other" is not one the dump loads/], [{ timing: 'INSTEAD OF' }, /timing/],
    [{ event: 'INSERT ON x; DROP' }, /event/], [{ order: 0 }, /order/], [{ statementHex: "53' OR 1" }, /statementHex/], [{ statementHex: '' }, /statementHex/],
    [{ sqlMode: "ANSI'; GRANT" }, /sqlMode/], [{ characterSetClient: 'utf8mb4; GRANT' }, /characterSetClient/], [{ collationConnection: "x'" }, /collationConnection/],
    [{ name: 7 }, /name/], [{ definer: '' }, /definer/]] as const) {
    assert.match(triggerRecordProblem({ ...record, ...wrong }, tables) ?? 'accepted', problem, JSON.stringify(wrong));
  }
});

test('a stored CREATE TRIGGER is cut after its words FOR EACH ROW, not inside a quoted name or a comment; a version comment is refused', () => {
  assert.equal(triggerBodyOf('CREATE DEFINER=`root`@`localhost` TRIGGER /* FOR EACH ROW */ `a FOR EACH ROW` BEFORE INSERT ON t\nfor each  row\n\tSET @a = 1'),
    'SET @a = 1');
  assert.equal(triggerBodyOf('CREATE DEFINER="r"@"h" TRIGGER "x""" AFTER DELETE ON t -- FOR EACH ROW\nFOR EACH ROW # c\n BEGIN END'), '# c\n BEGIN END');
  assert.equal(triggerBodyOf('CREATE DEFINER=`root`@`localhost` TRIGGER tr /*!99999 FOR EACH ROW */ BEFORE INSERT ON t FOR EACH ROW SET @a = 1'), undefined);
  assert.equal(triggerBodyOf('CREATE DEFINER=`root`@`localhost` TRIGGER tr BEFORE INSERT ON t FOR EACH ROW '), undefined);
  // Review: names past ASCII unquoted (they were refused, failing the whole backup), and a no-break space, which is
  // part of a name to the server (the name was taken for the words, the load failed).
  assert.equal(triggerBodyOf('CREATE DEFINER=`root`@`localhost` TRIGGER col·lecció_t BEFORE INSERT ON col·lecció FOR EACH ROW SET @a = 1'), 'SET @a = 1');
  assert.equal(triggerBodyOf('CREATE DEFINER=`root`@`localhost` TRIGGER ग्राहक_t BEFORE INSERT ON ग्राहक FOR EACH ROW SET @a = 1'), 'SET @a = 1');
  assert.equal(triggerBodyOf('CREATE DEFINER=`root`@`localhost` TRIGGER a\u00a0FOR\u00a0EACH\u00a0ROW BEFORE UPDATE ON t FOR EACH ROW SET NEW.v = 9'),
    'SET NEW.v = 9');
});
