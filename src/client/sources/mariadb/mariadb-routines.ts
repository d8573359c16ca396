// MariaDB stored procedures, functions and events as data, never as SQL text (as triggers: mariadb-triggers.ts):
// the dump reads mysql.proc, information_schema.EVENTS and mysql.event (names, parameter lists, bodies in hex) into
// routines.jsonl; a fresh load creates each with EXECUTE IMMEDIATE of a CREATE whose head we build, sent to
// the server as hex: the mariadb client lexes nothing a source user wrote.
import { readFile } from 'node:fs/promises';
import { CHARSET_NAME } from '../tables/data-header-check';
import { definerClause } from './mariadb-triggers';
import { quoteIdentifier, quoteLiteral, SQL_MODE_NAMES, UPPER_HEX, utf8FromHex } from './mariadb-sql';

interface RoutineSettings {
  readonly name: string;
  /** user@host (split at the last "@"), or a role's name. */
  readonly definer: string;
  readonly comment: string;
  readonly sqlMode: string;
  readonly characterSetClient: string;
  readonly collationConnection: string;
  readonly databaseCollation: string;
}

/** A procedure or function: mysql.proc's columns. Parameters, return type and body are its own bytes, in characterSetClient. */
export interface ProcedureRecord extends RoutineSettings {
  readonly kind: 'PROCEDURE' | 'FUNCTION';
  readonly parametersHex: string;
  /** FUNCTION only: the RETURNS type (`int(11)`, `varchar(20) CHARSET latin1`). */
  readonly returnsHex: string;
  readonly bodyHex: string;
  readonly isAggregate: boolean;
  readonly isDeterministic: boolean;
  readonly dataAccess: 'CONTAINS_SQL' | 'NO_SQL' | 'READS_SQL_DATA' | 'MODIFIES_SQL_DATA';
  readonly security: 'DEFINER' | 'INVOKER';
}

/** An event: information_schema.EVENTS, its times as in its time zone; its body mysql.event's, its own bytes in characterSetClient. */
export interface EventRecord extends RoutineSettings {
  readonly kind: 'EVENT';
  readonly bodyHex: string;
  readonly executeAt?: string;
  /** A recurring event: EVERY '<value>' <field>. */
  readonly every?: { readonly value: string; readonly field: string };
  readonly starts?: string;
  readonly ends?: string;
  readonly status: 'ENABLED' | 'DISABLED' | 'SLAVESIDE_DISABLED';
  readonly onCompletion: 'PRESERVE' | 'NOT PRESERVE';
  readonly timeZone: string;
}

export type RoutineRecord = ProcedureRecord | EventRecord;

/**
 * The routines of `database`, one a tab-separated line, from mysql.proc: the only place MariaDB 10.11 keeps a
 * routine's parameter list and body as written (information_schema shows the body with its charset introducers
 * dropped, the parameters cut into types). Reading it needs SELECT on mysql.proc, as SHOW CREATE does for another's routine.
 */
export function proceduresQuery(database: string): string {
  return 'SELECT type, HEX(name), HEX(definer), HEX(param_list), HEX(returns), HEX(body), aggregate, is_deterministic, sql_data_access, '
    + 'security_type, HEX(comment), sql_mode, character_set_client, collation_connection, db_collation FROM mysql.proc '
    + `WHERE db = ${quoteLiteral(database)} ORDER BY type, name;\n`;
}

/**
 * The events of `database`: information_schema shows them to a user holding EVENT on it, their times in their
 * time zone; the body from mysql.event, as written. EVENT_DEFINITION is not the event's text: its escapes are
 * undone and its charset introducers dropped (`'C:\\new'` read back as a line break; found by review).
 * BINARY: EVENT_SCHEMA = 'crm' alone also matched CRM's and crm with an accent (found by review).
 */
export function eventsQuery(database: string): string {
  return "SELECT HEX(e.EVENT_NAME), HEX(e.DEFINER), HEX(m.body), IFNULL(e.EXECUTE_AT, ''), IFNULL(e.INTERVAL_VALUE, ''), IFNULL(e.INTERVAL_FIELD, ''), "
    + "IFNULL(e.STARTS, ''), IFNULL(e.ENDS, ''), e.STATUS, e.ON_COMPLETION, HEX(e.EVENT_COMMENT), HEX(e.TIME_ZONE), e.SQL_MODE, e.CHARACTER_SET_CLIENT, "
    + 'e.COLLATION_CONNECTION, e.DATABASE_COLLATION FROM information_schema.EVENTS e JOIN mysql.event m '
    + 'ON BINARY m.db = BINARY e.EVENT_SCHEMA AND BINARY m.name = BINARY e.EVENT_NAME '
    + `WHERE BINARY e.EVENT_SCHEMA = BINARY ${quoteLiteral(database)} ORDER BY e.EVENT_NAME;\n`;
}

const linesOf = (answer: string): string[][] => answer.split('\n').filter((line) => line !== '').map((line) => line.split('\t'));

/** mysql.proc's rows; a PACKAGE (sql_mode=ORACLE) is not one we can re-create: its name comes back as `refused`. */
export function parseProcedures(answer: string): { records: ProcedureRecord[]; refused: string[] } {
  const records: ProcedureRecord[] = [];
  const refused: string[] = [];
  for (const [kind, name, definer, parametersHex, returnsHex, bodyHex, aggregate, deterministic, dataAccess, security, comment, sqlMode,
    characterSetClient, collationConnection, databaseCollation] of linesOf(answer)) {
    if (kind !== 'PROCEDURE' && kind !== 'FUNCTION') {
      refused.push(`${kind} ${utf8FromHex(name)}`);
      continue;
    }
    records.push({
      kind, name: utf8FromHex(name), definer: utf8FromHex(definer), parametersHex: parametersHex.toUpperCase(), returnsHex: returnsHex.toUpperCase(),
      bodyHex: bodyHex.toUpperCase(), isAggregate: aggregate === 'GROUP', isDeterministic: deterministic === 'YES',
      dataAccess: dataAccess as ProcedureRecord['dataAccess'], security: security as ProcedureRecord['security'], comment: utf8FromHex(comment),
      sqlMode, characterSetClient, collationConnection, databaseCollation,
    });
  }
  return { records, refused };
}

export function parseEvents(answer: string): EventRecord[] {
  return linesOf(answer).map(([name, definer, bodyHex, executeAt, intervalValue, intervalField, starts, ends, status, onCompletion, comment,
    timeZone, sqlMode, characterSetClient, collationConnection, databaseCollation]) => ({
    kind: 'EVENT' as const, name: utf8FromHex(name), definer: utf8FromHex(definer), bodyHex: bodyHex.toUpperCase(),
    ...(executeAt === '' ? {} : { executeAt }),
    // A compound interval comes quoted ('1:30' HOUR_MINUTE), a simple one bare.
    ...(intervalField === '' ? {} : { every: { value: intervalValue.replace(/^'(.*)'$/, '$1'), field: intervalField } }),
    ...(starts === '' ? {} : { starts }), ...(ends === '' ? {} : { ends }),
    status: status as EventRecord['status'], onCompletion: onCompletion as EventRecord['onCompletion'], comment: utf8FromHex(comment),
    timeZone: utf8FromHex(timeZone), sqlMode, characterSetClient, collationConnection, databaseCollation,
  }));
}

/** routines.jsonl: procedures and functions (created before schema.sql: a view may call a function), then events. */
export function routinesFileOf(records: readonly RoutineRecord[]): string {
  return records.map((record) => `${JSON.stringify(record)}\n`).join('');
}

const DATE_TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;
/** INTERVAL_VALUE: a number, or a compound one ('1:30', '2 03:04:05', '1-6'). */
const INTERVAL_VALUE = /^-?\d+(?:[ :.-]\d+)*$/;
const INTERVAL_FIELDS = ['YEAR', 'QUARTER', 'MONTH', 'WEEK', 'DAY', 'HOUR', 'MINUTE', 'SECOND', 'MICROSECOND', 'YEAR_MONTH', 'DAY_HOUR',
  'DAY_MINUTE', 'DAY_SECOND', 'HOUR_MINUTE', 'HOUR_SECOND', 'MINUTE_SECOND', 'DAY_MICROSECOND', 'HOUR_MICROSECOND', 'MINUTE_MICROSECOND',
  'SECOND_MICROSECOND'];
/** SYSTEM, an offset (+02:00) or a zone name (Europe/Paris): spliced into a literal, so no quote or backslash. */
const TIME_ZONE = /^[A-Za-z0-9_+\-:/]+$/;
const DATA_ACCESS = ['CONTAINS_SQL', 'NO_SQL', 'READS_SQL_DATA', 'MODIFIES_SQL_DATA'];

/** What is wrong with a routines.jsonl record (another client's words: a receiver loads what the sender wrote), or undefined. */
export function routineRecordProblem(record: unknown): string | undefined {
  if (typeof record !== 'object' || record === null || Array.isArray(record)) return 'not an object';
  const value = record as Record<string, unknown>;
  const isText = (key: string): boolean => typeof value[key] === 'string' && value[key] !== '';
  const isHex = (key: string): boolean => typeof value[key] === 'string' && UPPER_HEX.test(value[key] as string);
  for (const key of ['name', 'definer']) if (!isText(key)) return `${key} is not a name`;
  if (typeof value.comment !== 'string') return 'comment is not text';
  if (!isHex('bodyHex') || value.bodyHex === '') return 'bodyHex is not hex';
  if (typeof value.sqlMode !== 'string' || !SQL_MODE_NAMES.test(value.sqlMode)) return 'sqlMode is not a list of mode names';
  for (const key of ['characterSetClient', 'collationConnection', 'databaseCollation']) {
    if (typeof value[key] !== 'string' || !CHARSET_NAME.test(value[key] as string)) return `${key} is not a character set name`;
  }
  if (value.kind === 'PROCEDURE' || value.kind === 'FUNCTION') {
    if (!isHex('parametersHex')) return 'parametersHex is not hex';
    if (!isHex('returnsHex') || (value.kind === 'FUNCTION') !== (value.returnsHex !== '')) return 'returnsHex is not hex, or not a function\'s';
    if (typeof value.isAggregate !== 'boolean' || (value.isAggregate && value.kind !== 'FUNCTION')) return 'isAggregate is not a function\'s boolean';
    if (typeof value.isDeterministic !== 'boolean') return 'isDeterministic is not a boolean';
    if (!DATA_ACCESS.includes(value.dataAccess as string)) return 'dataAccess is not one of CONTAINS_SQL, NO_SQL, READS_SQL_DATA, MODIFIES_SQL_DATA';
    if (value.security !== 'DEFINER' && value.security !== 'INVOKER') return 'security is neither DEFINER nor INVOKER';
    return undefined;
  }
  if (value.kind !== 'EVENT') return 'kind is not PROCEDURE, FUNCTION or EVENT';
  for (const key of ['executeAt', 'starts', 'ends']) {
    if (value[key] !== undefined && !(typeof value[key] === 'string' && DATE_TIME.test(value[key] as string))) return `${key} is not a date and time`;
  }
  const every = value.every as Record<string, unknown> | undefined;
  if (every !== undefined && (typeof every !== 'object' || every === null || typeof every.value !== 'string' || !INTERVAL_VALUE.test(every.value)
    || !INTERVAL_FIELDS.includes(every.field as string))) return 'every is not an interval';
  if ((every === undefined) === (value.executeAt === undefined)) return 'neither executeAt nor every, or both';
  if (every === undefined && (value.starts !== undefined || value.ends !== undefined)) return 'starts or ends without every';
  if (!['ENABLED', 'DISABLED', 'SLAVESIDE_DISABLED'].includes(value.status as string)) return 'status is not ENABLED, DISABLED or SLAVESIDE_DISABLED';
  if (value.onCompletion !== 'PRESERVE' && value.onCompletion !== 'NOT PRESERVE') return 'onCompletion is neither PRESERVE nor NOT PRESERVE';
  if (typeof value.timeZone !== 'string' || !TIME_ZONE.test(value.timeZone)) return 'timeZone is not a time zone';
  return undefined;
}

/** A restored routines.jsonl, every record checked before anything runs; throws naming the line of the first that is not as a dump writes it. */
export async function readRoutinesFile(path: string, fail: (message: string) => never): Promise<RoutineRecord[]> {
  const lines = (await readFile(path, 'utf8')).split('\n');
  if (lines.pop() !== '') fail(`${path}: its last line does not end: the file is truncated`);
  return lines.map((line, index) => {
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      return fail(`${path}:${index + 1}: not a JSON line`);
    }
    const problem = routineRecordProblem(record);
    return problem === undefined ? record as RoutineRecord : fail(`${path}:${index + 1}: not loaded: ${problem}`);
  });
}

/**
 * A string literal the server reads under the routine's own sql_mode (no client sees it): quotes doubled, and
 * backslashes too unless NO_BACKSLASH_ESCAPES makes them plain. Either way it ends where we end it.
 */
function modeLiteral(text: string, sqlMode: string): string {
  const isPlain = sqlMode.split(',').includes('NO_BACKSLASH_ESCAPES');
  return `'${(isPlain ? text : text.replaceAll('\\', '\\\\')).replaceAll("'", "''")}'`;
}

/** Our text, as utf8mb4. */
const ours = (text: string): string => `CONVERT(X'${Buffer.from(text, 'utf8').toString('hex').toUpperCase()}' USING utf8mb4)`;
/** The routine's bytes, read in its character_set_client, as utf8mb4: the server converts the whole back to that set to parse it. */
const theirs = (hex: string, charset: string): string => `CONVERT(CONVERT(X'${hex}' USING ${charset}) USING utf8mb4)`;

/**
 * The CREATE PROCEDURE / FUNCTION we build: DEFINER, quoted name and characteristics ours; between them the
 * routine's parameter list, return type and body, its own bytes. One expression of hex literals: a string
 * the server parses as one statement (EXECUTE IMMEDIATE takes no second), which starts with our CREATE.
 */
export function createProcedureExpression(record: ProcedureRecord): string {
  const head = `CREATE DEFINER=${definerClause(record.definer)} ${record.isAggregate ? 'AGGREGATE ' : ''}${record.kind} ${quoteIdentifier(record.name)}(`;
  const characteristics = `${record.isDeterministic ? '' : 'NOT '}DETERMINISTIC ${record.dataAccess.replaceAll('_', ' ')} SQL SECURITY ${record.security}`
    + `${record.comment === '' ? '' : ` COMMENT ${modeLiteral(record.comment, record.sqlMode)}`}\n`;
  const parts = [ours(head), theirs(record.parametersHex, record.characterSetClient)];
  // sql_mode=ORACLE spells it RETURN (RETURNS is ERROR 1064 there; found by review).
  const returns = record.sqlMode.split(',').includes('ORACLE') ? ') RETURN ' : ') RETURNS ';
  if (record.kind === 'FUNCTION') parts.push(ours(returns), theirs(record.returnsHex, record.characterSetClient), ours(`\n${characteristics}`));
  else parts.push(ours(`)\n${characteristics}`));
  parts.push(theirs(record.bodyHex, record.characterSetClient));
  return `CONCAT(${parts.join(', ')})`;
}

/**
 * Every event created disabled: once the scheduler is on, an enabled one would run on its own as its DEFINER (a
 * forged record's root@localhost GRANTed within seconds; found by review). The load warns of each the source
 * ran (disabledEventsWarnings): a restored copy runs no scheduled job unasked.
 */
const STATUS_CLAUSES: Readonly<Record<EventRecord['status'], string>> = { ENABLED: 'DISABLE', DISABLED: 'DISABLE', SLAVESIDE_DISABLED: 'DISABLE ON SLAVE' };

/** The CREATE EVENT we build: schedule, completion, status and comment from checked words; the body its own bytes. */
export function createEventExpression(record: EventRecord): string {
  const literal = (text: string): string => modeLiteral(text, record.sqlMode);
  const schedule = record.every === undefined ? `AT ${literal(record.executeAt as string)}`
    : `EVERY ${literal(record.every.value)} ${record.every.field}${record.starts === undefined ? '' : ` STARTS ${literal(record.starts)}`}`
      + `${record.ends === undefined ? '' : ` ENDS ${literal(record.ends)}`}`;
  const head = `CREATE DEFINER=${definerClause(record.definer)} EVENT ${quoteIdentifier(record.name)} ON SCHEDULE ${schedule} `
    + `ON COMPLETION ${record.onCompletion} ${STATUS_CLAUSES[record.status]}${record.comment === '' ? '' : ` COMMENT ${literal(record.comment)}`} DO `;
  return `CONCAT(${ours(head)}, ${theirs(record.bodyHex, record.characterSetClient)})`;
}

/**
 * The statements creating one routine or event: its character set, collation and sql_mode (checked words, in
 * literals that hold no quote or backslash), an event's time zone (its times are in it), then EXECUTE IMMEDIATE.
 */
export function createRoutineStatements(record: RoutineRecord): string {
  const zone = record.kind === 'EVENT' ? `SET SESSION time_zone = '${record.timeZone}';\n` : '';
  const expression = record.kind === 'EVENT' ? createEventExpression(record) : createProcedureExpression(record);
  return `SET NAMES ${record.characterSetClient};\nSET SESSION collation_connection = '${record.collationConnection}';\n`
    + `SET SESSION sql_mode = '${record.sqlMode}';\n${zone}EXECUTE IMMEDIATE ${expression};\n`;
}

/** Tab, newline and printable ASCII: what the statements we build around a routine's or trigger's own bytes are made of. */
const OUR_CHARACTERS = Buffer.from(Array.from({ length: 95 }, (_, index) => 32 + index).concat([9, 10])).toString('hex').toUpperCase();

/**
 * For each character set (checked names), whether our ASCII comes back as itself through it: the load has the server
 * read our CREATE in the routine's character_set_client, and swe7 reads ` and @ as letters (ERROR 1064; found by review).
 */
export function asciiCharsetsQuery(charsets: readonly string[]): string {
  return charsets.map((charset) => `SELECT '${charset}', CONVERT(CONVERT(CONVERT(X'${OUR_CHARACTERS}' USING utf8mb4) USING ${charset}) USING utf8mb4) `
    + `= CONVERT(X'${OUR_CHARACTERS}' USING utf8mb4) COLLATE utf8mb4_bin;\n`).join('');
}

/** The character sets of asciiCharsetsQuery's answer whose ASCII is not ASCII. */
export function nonAsciiCharsets(answer: string): string[] {
  return answer.split('\n').filter((line) => line !== '').map((line) => line.split('\t')).filter(([, isSame]) => isSame !== '1').map(([charset]) => charset);
}
