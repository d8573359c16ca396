// MariaDB triggers as data, never as SQL text: the dump reads information_schema.TRIGGERS (names in hex)
// and SHOW CREATE TRIGGER (bodies as written) into triggers.jsonl, one JSON object a line; a fresh load creates each trigger after
// the rows' COMMIT with EXECUTE IMMEDIATE of a statement we build, passed to the server as one hex
// literal. The mariadb client lexes nothing of the source's: a comment or a string holding `*/ ;;`
// in a trigger's body (which split mariadb-dump's `/*!50003 ... */;;` text in the client and ran the
// rest as statements of the loading user; found by review) reaches the server as hex digits only.
import { readFile } from 'node:fs/promises';
import { CHARSET_NAME } from '../tables/data-header-check';
import { quoteIdentifier, quoteLiteral, SQL_MODE_NAMES, UPPER_HEX, utf8FromHex } from './mariadb-sql';

export interface TriggerRecord {
  readonly name: string;
  readonly table: string;
  readonly timing: 'BEFORE' | 'AFTER';
  readonly event: 'INSERT' | 'UPDATE' | 'DELETE';
  /** ACTION_ORDER: its place among the triggers of its table, timing and event (1 first). */
  readonly order: number;
  /** The body after FOR EACH ROW as written, comments and all (UTF-8), in hex: SHOW CREATE TRIGGER's, not ACTION_STATEMENT's. */
  readonly statementHex: string;
  readonly sqlMode: string;
  /** user@host (split at the last "@"), or a role's name. */
  readonly definer: string;
  readonly characterSetClient: string;
  readonly collationConnection: string;
  readonly databaseCollation: string;
}

/**
 * The triggers of `database` as hex and words, one a line, tab-separated: names may hold tabs and newlines.
 * ACTION_STATEMENT (kept for its order, the body comes from SHOW CREATE TRIGGER) is not the trigger's text: its
 * escapes are undone and its charset introducers dropped (`'C:\\new'` read back as a line break; found by review).
 * BINARY: TRIGGER_SCHEMA = 'crm' alone also matched CRM's and crm with an accent (found by review); the plain
 * comparison beside it keeps information_schema reading one database's folder.
 */
export function triggersQuery(database: string): string {
  return 'SELECT HEX(TRIGGER_NAME), HEX(EVENT_OBJECT_TABLE), ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER, HEX(ACTION_STATEMENT), '
    + 'SQL_MODE, HEX(DEFINER), CHARACTER_SET_CLIENT, COLLATION_CONNECTION, DATABASE_COLLATION FROM information_schema.TRIGGERS '
    + `WHERE TRIGGER_SCHEMA = ${quoteLiteral(database)} AND BINARY TRIGGER_SCHEMA = BINARY ${quoteLiteral(database)};\n`;
}

/** SHOW CREATE TRIGGER of each, in order: its "SQL Original Statement" is the text the server stored (in utf8mb4, as the client asks). */
export function showCreateTriggersQuery(database: string, records: readonly TriggerRecord[]): string {
  return records.map((record) => `SHOW CREATE TRIGGER ${quoteIdentifier(database)}.${quoteIdentifier(record.name)};\n`).join('');
}

/** The mariadb client's --batch escapes (without --raw): a field's tab, newline, NUL and backslash. */
const unescapeBatch = (field: string): string => field.replace(/\\([\\nt0])/g, (_, escaped: string) => ({ n: '\n', t: '\t', 0: '\0' }[escaped] ?? '\\'));

/**
 * The triggers with their bodies as SHOW CREATE TRIGGER (answer: one line each, in records' order, escaped as
 * --batch escapes) gives them; throws naming a trigger whose statement we cannot cut (triggerBodyOf).
 */
export function withShownBodies(records: readonly TriggerRecord[], answer: string, fail: (message: string) => Error): TriggerRecord[] {
  const lines = answer.split('\n').filter((line) => line !== '');
  if (lines.length !== records.length) throw fail(`SHOW CREATE TRIGGER answered ${lines.length} lines for ${records.length} triggers`);
  return records.map((record, index) => {
    const fields = lines[index].split('\t').map(unescapeBatch);
    // Trigger, sql_mode, SQL Original Statement, character_set_client, collation_connection, Database Collation, Created.
    const body = fields.length === 7 && fields[0] === record.name ? triggerBodyOf(fields[2]) : undefined;
    if (body === undefined) {
      throw fail(`trigger ${record.name}: its statement as SHOW CREATE TRIGGER shows it is not CREATE ... FOR EACH ROW <body> as cpsbackup reads it `
        + '(a version comment /*! */ before its body?): it cannot be backed up as written; re-create it without');
    }
    return { ...record, statementHex: Buffer.from(body, 'utf8').toString('hex').toUpperCase() };
  });
}

/**
 * The body of a stored CREATE TRIGGER statement: all after the words FOR EACH ROW, leading blanks left out (the
 * server drops FOLLOWS / PRECEDES from what it stores). Before them only names, words, comments and `.=@`
 * may come (a quoted name may hold anything); a version comment /*! is code to the server: undefined.
 */
export function triggerBodyOf(statement: string): string | undefined {
  // Blanks are the server's (ASCII) only: a no-break space is part of a name to it (`a FOR EACH ROW`, spelled with
  // U+00A0, was cut after its name, review); and any character past ASCII may be in an unquoted name (col·lecció).
  const TOKEN = /[ \t\n\r\v\f]+|\/\*(?!!|M!)[\s\S]*?\*\/|#[^\n]*|--(?:[\x00-\x20][^\n]*)?(?=\n|$)|`(?:[^`]|``)*`|"(?:[^"]|"")*"|'(?:[^'\\]|''|\\[\s\S])*'|[\w$\u0080-\u{10FFFF}]+|[.=@]/uy;
  const words: string[] = [];
  for (let at = 0; at < statement.length;) {
    TOKEN.lastIndex = at;
    const match = TOKEN.exec(statement);
    if (match === null) return undefined;
    at += match[0].length;
    if (/^[\w$\u0080-\u{10FFFF}]+$/u.test(match[0])) words.push(match[0].toUpperCase());
    if (words.length >= 3 && words.slice(-3).join(' ') === 'FOR EACH ROW') {
      const body = statement.slice(at).replace(/^[ \t\n\r\v\f]+/, '');
      return body === '' ? undefined : body;
    }
  }
  return undefined;
}


/** Sorted by table, timing, event and ACTION_ORDER: the order a load creates them in, each after those before it. */
export function parseTriggers(answer: string): TriggerRecord[] {
  const records = answer.split('\n').filter((line) => line !== '').map((line) => {
    const [name, table, timing, event, order, statementHex, sqlMode, definer, characterSetClient, collationConnection, databaseCollation] = line.split('\t');
    return {
      name: utf8FromHex(name), table: utf8FromHex(table), timing, event, order: Number(order), statementHex: statementHex.toUpperCase(), sqlMode,
      definer: utf8FromHex(definer), characterSetClient, collationConnection, databaseCollation,
    } as TriggerRecord;
  });
  return sortTriggers(records);
}

const TIMINGS = ['BEFORE', 'AFTER'];
const EVENTS = ['INSERT', 'UPDATE', 'DELETE'];

function sortTriggers(records: readonly TriggerRecord[]): TriggerRecord[] {
  const key = (record: TriggerRecord): string => `${record.table}\0${TIMINGS.indexOf(record.timing)}${EVENTS.indexOf(record.event)}`;
  return [...records].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : a.order - b.order));
}

/** triggers.jsonl: one JSON object a line, in creation order. */
export function triggersFileOf(records: readonly TriggerRecord[]): string {
  return records.map((record) => `${JSON.stringify(record)}\n`).join('');
}


/**
 * What is wrong with a triggers.jsonl record (another client's words: a receiver loads what the sender
 * wrote), or undefined: every field of its type and spelling, its table one the dump loads.
 */
export function triggerRecordProblem(record: unknown, tables: ReadonlySet<string>): string | undefined {
  if (typeof record !== 'object' || record === null || Array.isArray(record)) return 'not an object';
  const value = record as Record<string, unknown>;
  const isText = (key: string): boolean => typeof value[key] === 'string' && value[key] !== '';
  for (const key of ['name', 'table', 'definer']) if (!isText(key)) return `${key} is not a name`;
  if (!tables.has(value.table as string)) return `table ${JSON.stringify(value.table)} is not one the dump loads`;
  if (!TIMINGS.includes(value.timing as string)) return 'timing is neither BEFORE nor AFTER';
  if (!EVENTS.includes(value.event as string)) return 'event is not INSERT, UPDATE or DELETE';
  if (!Number.isSafeInteger(value.order) || (value.order as number) < 1) return 'order is not a positive integer';
  if (typeof value.statementHex !== 'string' || !UPPER_HEX.test(value.statementHex) || value.statementHex === '') return 'statementHex is not hex';
  if (typeof value.sqlMode !== 'string' || !SQL_MODE_NAMES.test(value.sqlMode)) return 'sqlMode is not a list of mode names';
  for (const key of ['characterSetClient', 'collationConnection', 'databaseCollation']) {
    if (typeof value[key] !== 'string' || !CHARSET_NAME.test(value[key] as string)) return `${key} is not a character set name`;
  }
  return undefined;
}

/** A restored triggers.jsonl, every record checked; throws naming the line of the first that is not as a dump writes it. */
export async function readTriggersFile(path: string, tables: ReadonlySet<string>, fail: (message: string) => never): Promise<TriggerRecord[]> {
  const lines = (await readFile(path, 'utf8')).split('\n');
  if (lines.pop() !== '') fail(`${path}: its last line does not end: the file is truncated`);
  const records = lines.map((line, index) => {
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      return fail(`${path}:${index + 1}: not a JSON line`);
    }
    const problem = triggerRecordProblem(record, tables);
    return problem === undefined ? record as TriggerRecord : fail(`${path}:${index + 1}: not loaded: ${problem}`);
  });
  const sorted = sortTriggers(records);
  // In ACTION_ORDER, each created last among its table's, timing's and event's: 1, 2, 3... or the order would change.
  sorted.forEach((record, index) => {
    const previous = index === 0 ? undefined : sorted[index - 1];
    const isSameGroup = previous !== undefined && previous.table === record.table && previous.timing === record.timing && previous.event === record.event;
    if (record.order !== (isSameGroup ? previous.order + 1 : 1)) fail(`${path}: trigger ${record.name}: its order ${record.order} is not the next of its table, timing and event`);
  });
  return sorted;
}

/** DEFINER=`user`@`host`: split at the last "@" (a user name may hold one, a host name not); a role has none. */
export function definerClause(definer: string): string {
  const at = definer.lastIndexOf('@');
  return at < 0 ? quoteIdentifier(definer) : `${quoteIdentifier(definer.slice(0, at))}@${quoteIdentifier(definer.slice(at + 1))}`;
}

/** The CREATE TRIGGER we build for a record: quoted names, the target's table unqualified, the body's own bytes. */
export function createTriggerText(record: TriggerRecord): Buffer {
  const head = `CREATE DEFINER=${definerClause(record.definer)} TRIGGER ${quoteIdentifier(record.name)} ${record.timing} ${record.event} `
    + `ON ${quoteIdentifier(record.table)} FOR EACH ROW `;
  return Buffer.concat([Buffer.from(head, 'utf8'), Buffer.from(record.statementHex, 'hex')]);
}

/**
 * The statements creating one trigger: its character set and sql_mode (checked words, in literals that
 * hold no quote or backslash), then EXECUTE IMMEDIATE of createTriggerText as one hex literal read as
 * utf8mb4; the server converts it to the trigger's character_set_client, as it stores it.
 */
export function createTriggerStatements(record: TriggerRecord): string {
  return `SET NAMES ${record.characterSetClient};\nSET SESSION collation_connection = '${record.collationConnection}';\n`
    + `SET SESSION sql_mode = '${record.sqlMode}';\n`
    + `EXECUTE IMMEDIATE CONVERT(X'${createTriggerText(record).toString('hex').toUpperCase()}' USING utf8mb4);\n`;
}
