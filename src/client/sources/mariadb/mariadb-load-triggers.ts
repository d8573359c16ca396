// MariaDB cannot turn a trigger off: a load sets the loaded tables' triggers aside (saved in a table
// of the target database, then dropped) and re-creates them exactly after its rows, whatever its outcome.
import type { FailureFactory } from '../tables/dialect';
import { quoteIdentifier, quoteLiteral } from './mariadb-sql';

/**
 * In the target database while its triggers are set aside, gone once they are back. Durable on purpose:
 * DDL commits at once, so a load killed between the DROP TRIGGERs and their re-creation would lose them;
 * this table still holds them, and the next load of the database re-creates them and says so.
 */
export const SET_ASIDE_TABLE = 'cpsbackup_set_aside_triggers';

/**
 * The row that marks a load creating the tables: their triggers come from schema.sql after the rows. A
 * load killed before them left the tables without triggers, which a load over them would not notice.
 */
const SCHEMA_MARK = '';

const CLIENT_DELIMITER = '$cps_triggers$';

/** Runs a query through the sandboxed client (--raw, tab-separated); runs a script through the loader. */
export interface TriggerSession {
  readonly database: string;
  query(sql: string, what: string): Promise<string>;
  runScript(script: string | AsyncIterable<string | Buffer>): Promise<void>;
  fail: FailureFactory;
  warn(message: string): void;
}

interface SavedTrigger {
  readonly table: string;
  readonly name: string;
  readonly timing: string;
  readonly event: string;
  readonly order: number;
}

const table = (session: TriggerSession): string => `${quoteIdentifier(session.database)}.${quoteIdentifier(SET_ASIDE_TABLE)}`;

/**
 * The definitions MariaDB keeps: SHOW CREATE TRIGGER's statement (its FOLLOWS / PRECEDES left out: the order is
 * ACTION_ORDER, kept by creating each group's triggers in it), and the sql_mode, character_set_client and
 * collation_connection it was created under. utf8mb4_bin: names compare as MariaDB's do, byte for byte.
 */
const createTable = (session: TriggerSession): string => `CREATE TABLE IF NOT EXISTS ${table(session)} (
  trigger_name VARCHAR(64) NOT NULL PRIMARY KEY, table_name VARCHAR(64) NOT NULL, action_timing VARCHAR(16) NOT NULL,
  event_manipulation VARCHAR(16) NOT NULL, action_order BIGINT NOT NULL, sql_mode TEXT NOT NULL, character_set_client VARCHAR(64) NOT NULL,
  collation_connection VARCHAR(64) NOT NULL, statement LONGTEXT NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;\n`;

async function setAsideTableExists(session: TriggerSession): Promise<boolean> {
  const answer = await session.query(`SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ${quoteLiteral(session.database)} `
    + `AND TABLE_NAME = ${quoteLiteral(SET_ASIDE_TABLE)};`, `looking for ${SET_ASIDE_TABLE} in ${session.database}`);
  return answer.trim() === '1';
}

function parseTriggers(answer: string): SavedTrigger[] {
  return answer.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as SavedTrigger);
}

/** SHOW CREATE TRIGGER's row under --raw: name, sql_mode, statement (any character), then four fields without tabs. */
function parseShowCreate(answer: string, name: string): { sqlMode: string; statement: string; characterSet: string; collation: string } | undefined {
  const text = answer.endsWith('\n') ? answer.slice(0, -1) : answer;
  if (!text.startsWith(`${name}\t`)) return undefined;
  const rest = text.slice(name.length + 1);
  const modeEnd = rest.indexOf('\t');
  const tail: string[] = [];
  let end = rest.length;
  for (let field = 0; field < 4; field += 1) {
    const start = rest.lastIndexOf('\t', end - 1);
    if (start <= modeEnd) return undefined;
    tail.unshift(rest.slice(start + 1, end));
    end = start;
  }
  return { sqlMode: rest.slice(0, modeEnd), statement: rest.slice(modeEnd + 1, end), characterSet: tail[0], collation: tail[1] };
}

/** Every trigger in the record, created again in its group's order (a PRECEDES / FOLLOWS needs none), then the record dropped. */
function restoreScript(session: TriggerSession): string {
  return `DELIMITER ${CLIENT_DELIMITER}
BEGIN NOT ATOMIC
  FOR saved IN (SELECT trigger_name, sql_mode, character_set_client, collation_connection, statement FROM ${table(session)}
      WHERE trigger_name <> ${quoteLiteral(SCHEMA_MARK)} ORDER BY table_name, action_timing, event_manipulation, action_order) DO
    -- Dropped first if it is there: its place in the order is taken again from the record.
    EXECUTE IMMEDIATE CONCAT('DROP TRIGGER IF EXISTS \`', REPLACE(saved.trigger_name, '\`', '\`\`'), '\`');
    SET SESSION sql_mode = saved.sql_mode;
    SET SESSION character_set_client = saved.character_set_client;
    SET SESSION collation_connection = saved.collation_connection;
    EXECUTE IMMEDIATE saved.statement;
    SET SESSION character_set_client = 'utf8mb4';
    SET SESSION collation_connection = 'utf8mb4_general_ci';
  END FOR;
END${CLIENT_DELIMITER}
DELIMITER ;
DELETE FROM ${table(session)} WHERE trigger_name <> ${quoteLiteral(SCHEMA_MARK)};
`;
}

/** The record's triggers a stopped load left dropped (undefined: no record); refuses when it marks tables created without theirs. */
async function leftovers(session: TriggerSession, createsTables: boolean): Promise<SavedTrigger[] | undefined> {
  if (!await setAsideTableExists(session)) return undefined;
  const saved = parseTriggers(await session.query(`SELECT JSON_OBJECT('table', table_name, 'name', trigger_name) FROM ${table(session)};`,
    `reading ${SET_ASIDE_TABLE} in ${session.database}`));
  // Tables gone since (a load creating them again): their mark says nothing any more.
  if (!createsTables && saved.some((trigger) => trigger.name === SCHEMA_MARK)) {
    throw session.fail(`an earlier load into ${session.database} created its tables but stopped before it created their triggers `
      + `(table ${SET_ASIDE_TABLE} marks it): not loaded. Drop the dumped tables and table ${SET_ASIDE_TABLE}, then load again`);
  }
  const dropped = saved.filter((trigger) => trigger.name !== SCHEMA_MARK);
  if (dropped.length > 0) {
    session.warn(`an earlier load into ${session.database} was stopped with triggers set aside: re-creating them from table `
      + `${SET_ASIDE_TABLE}: ${dropped.map((trigger) => `${trigger.table}.${trigger.name}`).join(', ')}`);
  }
  return dropped;
}

/** The script that saves the definitions of the tables' triggers in the record (committed), then drops them; undefined when there are none. */
async function setAsideScript(session: TriggerSession, tables: readonly string[]): Promise<string | undefined> {
  const triggers = parseTriggers(await session.query('SELECT JSON_OBJECT(\'table\', EVENT_OBJECT_TABLE, \'name\', TRIGGER_NAME, '
    + '\'timing\', ACTION_TIMING, \'event\', EVENT_MANIPULATION, \'order\', ACTION_ORDER) FROM information_schema.TRIGGERS '
    + `WHERE TRIGGER_SCHEMA = ${quoteLiteral(session.database)} AND EVENT_OBJECT_TABLE IN (${tables.map(quoteLiteral).join(', ')});`,
  `reading the triggers of ${session.database}`));
  if (triggers.length === 0) return undefined;
  const saves: string[] = [];
  for (const trigger of triggers) {
    const answer = await session.query(`SHOW CREATE TRIGGER ${quoteIdentifier(session.database)}.${quoteIdentifier(trigger.name)};`,
      `reading trigger ${trigger.name} on table ${trigger.table}`);
    const definition = parseShowCreate(answer, trigger.name);
    if (definition === undefined) throw session.fail(`cannot read the definition of trigger ${trigger.name} on table ${trigger.table}: not loaded`);
    saves.push(`(${[trigger.name, trigger.table, trigger.timing, trigger.event].map(quoteLiteral).join(', ')}, ${Number(trigger.order)}, `
      + `${[definition.sqlMode, definition.characterSet, definition.collation, definition.statement].map(quoteLiteral).join(', ')})`);
  }
  // One statement for the record: committed whole before the first DROP, or not at all.
  return `${createTable(session)}REPLACE INTO ${table(session)} VALUES\n${saves.join(',\n')};\n`
    + triggers.map((trigger) => `DROP TRIGGER ${quoteIdentifier(session.database)}.${quoteIdentifier(trigger.name)};\n`).join('');
}

async function restore(session: TriggerSession, loadError: unknown): Promise<void> {
  try {
    await session.runScript(`${restoreScript(session)}DROP TABLE IF EXISTS ${table(session)};\n`);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    const after = loadError === undefined ? '' : `the load failed (${loadError instanceof Error ? loadError.message : String(loadError)}), and `;
    throw session.fail(`${after}re-creating the triggers of ${session.database} failed: they are kept in table ${SET_ASIDE_TABLE}, `
      + `and the next load of ${session.database} re-creates them: ${why}`);
  }
}

/**
 * Runs `load` with no trigger on the tables it loads. Over existing tables: their triggers saved and
 * dropped before, re-created after, failed or not. Creating the tables: schema.sql's triggers come after
 * the rows (mariadb-schema-triggers.ts); a mark row says so while the load runs, and a failed load gets
 * them through `createTriggers`, so its empty tables are as schema.sql made them. A load killed outright
 * (SIGKILL, a crash, the server gone) leaves the record: the next load of the database re-creates the
 * triggers it holds (and says so) or, for tables created without theirs, refuses naming what to drop.
 * The triggers are absent while the load runs: other sessions' writes to these tables then fire none.
 */
export async function withTriggersSetAside(session: TriggerSession, tables: readonly string[], createsTables: boolean,
  load: () => Promise<void>, createTriggers: () => Promise<void>): Promise<void> {
  const dropped = await leftovers(session, createsTables);
  let hasRecord = dropped !== undefined || createsTables;
  if (createsTables) {
    await session.runScript(`${createTable(session)}REPLACE INTO ${table(session)} VALUES (${quoteLiteral(SCHEMA_MARK)}, '', '', '', 0, '', '', '', '');\n`);
  }
  let loadError: unknown;
  try {
    const setAside = createsTables ? undefined : await setAsideScript(session, tables);
    if (setAside !== undefined) {
      // From here the record may hold triggers that are gone: restored even if a DROP fails.
      hasRecord = true;
      await session.runScript(setAside);
    }
    await load();
  } catch (error) {
    loadError = error;
  }
  if (createsTables && loadError !== undefined) {
    try {
      await createTriggers();
    } catch (error) {
      throw session.fail(`the load failed (${loadError instanceof Error ? loadError.message : String(loadError)}), and creating `
        + `schema.sql's triggers after it failed too: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  if (hasRecord) await restore(session, loadError);
  if (loadError !== undefined) throw loadError;
}
