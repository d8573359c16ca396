// The script the mariadb client reads to load a restored data.sql. Complete: the dumped schema when
// none of the tables exists (else their rows are deleted, children first), then every table's rows
// in order, batched into multi-row INSERTs, in one transaction (a table with columns left out of the
// dump through a stage joined to its rows copied aside: kept-columns.ts). Partial: every table into a
// temporary stage, then deletes (children first) and upserts by primary key (parents first), all
// in one transaction. Foreign keys are checked once the rows are in (mariadb-load-references.ts).
// MariaDB commits DDL at once: a failed load that created the tables leaves them empty. A load that
// created them then creates the triggers of triggers.jsonl, after the commit, so none fires on a loaded
// row: each from a statement we build, sent as hex (mariadb-triggers.ts). Its routines.jsonl's procedures and
// functions go before schema.sql (a view may call a function), its events after the triggers (none runs before
// the rows are in), the same way (mariadb-routines.ts).
import { createReadStream } from 'node:fs';
import { LoadFailedError } from '../../../common/errors';
import type { DataEvent } from '../tables/data-reader';
import type { DataHeader, SectionHeader, SoftDelete } from '../tables/data-format';
import { STEP_MARKER, type LoadPlan, type UniqueKeyPart } from '../tables/dialect';
import { keptColumnsOf, unkeptColumnsProblem } from '../tables/kept-columns';
import { orphanReferencesCheck } from './mariadb-load-references';
import { rowTupleProblem } from './mariadb-row-tuple';
import { columnList, insertPrefix, LOAD_SQL_MODE, quoteIdentifier, quoteLiteral, SESSION_SETTINGS } from './mariadb-sql';
import { createTriggerStatements, readTriggersFile } from './mariadb-triggers';
import { createRoutineStatements, readRoutinesFile, type RoutineRecord } from './mariadb-routines';

/** Well below every server's max_allowed_packet default (4 MiB on MySQL 5.7, 16 MiB on MariaDB). */
const STATEMENT_BYTES = 1024 * 1024;

function step(text: string): string {
  return `SELECT ${quoteLiteral(`${STEP_MARKER}${text}`)};\n`;
}

function softDeleteTest(alias: string, softDelete: SoftDelete): string {
  const column = `${alias}.${quoteIdentifier(softDelete.column)}`;
  if (softDelete.when === 'true') return `${column} IS TRUE`;
  return softDelete.when === 'nonzero' ? `${column} <> 0` : `${column} IS NOT NULL`;
}

function keyMatch(left: string, right: string, keys: readonly string[], rightKeys = keys): string {
  return keys.map((key, index) => `${left}.${quoteIdentifier(key)} = ${right}.${quoteIdentifier(rightKeys[index])}`).join(' AND ');
}

/** Groups a section's row tuples into INSERT statements of at most STATEMENT_BYTES, or one row when it is larger. */
class InsertBatch {
  private parts: Buffer[] = [];
  private length = 0;
  private readonly prefix: Buffer;

  private readonly columns: number;

  constructor(private readonly statement: string, section: SectionHeader, private readonly fail: (line: number, message: string) => never) {
    this.prefix = Buffer.from(insertPrefix(section.table, section.columns), 'utf8');
    this.columns = section.columns.length;
  }

  /** The tuple `(...)` of a row line `INSERT INTO ... VALUES (...);`, checked against the section's header. */
  add(bytes: Buffer, line: number): Buffer | undefined {
    if (bytes.length < this.prefix.length + 3 || !bytes.subarray(0, this.prefix.length).equals(this.prefix) || bytes[bytes.length - 1] !== 0x3b) {
      this.fail(line, 'a row that does not belong to the table above');
    }
    // Spliced as it is: values only, or the sender's SQL would run here (mariadb-row-tuple.ts).
    const problem = rowTupleProblem(bytes, this.prefix.length, bytes.length - 1, this.columns);
    if (problem !== undefined) this.fail(line, `not loaded: ${problem}`);
    // Flushed before the row that would pass the size, not after: a row near max_allowed_packet goes alone.
    const full = this.length > 0 && this.length + bytes.length > STATEMENT_BYTES ? this.flush() : undefined;
    this.parts.push(Buffer.from(this.parts.length === 0 ? this.statement : ',\n'), bytes.subarray(this.prefix.length, bytes.length - 1));
    this.length += bytes.length;
    return full;
  }

  flush(): Buffer | undefined {
    if (this.parts.length === 0) return undefined;
    const statement = Buffer.concat([...this.parts, Buffer.from(';\n')]);
    this.parts = [];
    this.length = 0;
    return statement;
  }
}

export async function* mariadbLoadScript(header: DataHeader, events: AsyncIterable<DataEvent>, plan: LoadPlan): AsyncGenerator<string | Buffer> {
  const isComplete = header.backup === 'complete';
  const kept = keptColumnsOf(header, plan);
  const keptOf = (table: string): string => quoteIdentifier(`cpsbackup_kept_${header.tables.findIndex((summary) => summary.table === table) + 1}`);
  const fail = (message: string): never => {
    throw new LoadFailedError(header.source, message);
  };
  // Read and checked whole before anything runs: a record that is not as a dump writes it fails the load before any table exists.
  const triggers = isComplete && plan.createsTables && plan.triggersPath !== undefined
    ? await readTriggersFile(plan.triggersPath, new Set(header.tables.map((table) => table.table)), fail) : [];
  const routines = isComplete && plan.createsTables && plan.routinesPath !== undefined ? await readRoutinesFile(plan.routinesPath, fail) : [];
  const procedures = routines.filter((routine) => routine.kind !== 'EVENT');
  if (isComplete && plan.createsTables) {
    if (plan.schemaPath === undefined) fail('a complete dump needs its schema.sql beside data.sql');
    if (procedures.length > 0) {
      // schema.sql runs under the session the client opened: its sql_mode comes back after the routines'.
      yield 'SET @cpsbackup_sql_mode = @@SESSION.sql_mode;\n';
      for (const routine of procedures) yield* createRoutine(routine, ROUTINES_STEP);
      yield 'SET SESSION sql_mode = @cpsbackup_sql_mode;\nSET NAMES utf8mb4;\n';
    }
    yield step('schema');
    yield* createReadStream(plan.schemaPath as string);
    yield '\n';
  }
  // SET NAMES: the tuples are lexed as utf8mb4 (mariadb-row-tuple.ts), whatever a schema.sql set before.
  // Foreign keys off while a complete load's rows go and come (a partial load's: while they are upserted),
  // checked once all are in (mariadb-load-references.ts).
  yield `${LOAD_SQL_MODE}${SESSION_SETTINGS}SET NAMES utf8mb4;\nSET SESSION foreign_key_checks = ${isComplete ? 0 : 1};\nSET SESSION unique_checks = 1;\n`;
  if (isComplete && plan.createsTables) {
    for (const table of header.tables) {
      for (const column of table.excludedColumns) {
        // Not in the dump: the recreated table lets it be NULL. DDL, so before the transaction (it would commit it).
        if (!column.isNullable && column.definition !== undefined) {
          yield `ALTER TABLE ${quoteIdentifier(table.table)} MODIFY ${quoteIdentifier(column.name)} ${column.definition} NULL;\n`;
        }
      }
    }
  }
  yield 'START TRANSACTION;\n';
  if (isComplete && !plan.createsTables && header.tables.length > 0) {
    // The tables exist: their definitions stay, their rows go (DELETE, not TRUNCATE: it would commit).
    if (kept.size > 0) yield step('keep the columns left out of the dump');
    for (const table of kept.keys()) yield `CREATE TEMPORARY TABLE ${keptOf(table)} AS SELECT * FROM ${quoteIdentifier(table)};\n`;
    yield step('delete rows');
    for (const table of [...header.tables].reverse()) yield `DELETE FROM ${quoteIdentifier(table.table)};\n`;
  }
  const sections: SectionHeader[] = [];
  let batch: InsertBatch | undefined;
  let current: SectionHeader | undefined;
  let hasEnded = false;
  const stageOf = (section: SectionHeader): string => quoteIdentifier(`cpsbackup_stage_${sections.indexOf(section) + 1}`);
  const closeSection = function* (): Generator<string | Buffer> {
    const last = batch?.flush();
    if (last !== undefined) yield last;
    const excluded = isComplete && current !== undefined ? kept.get(current.table) : undefined;
    if (current !== undefined && excluded !== undefined) yield keptInsert(current, excluded, stageOf(current), keptOf(current.table));
    if (isComplete && current?.softDelete !== undefined) {
      // With the checks on: the deleted rows' children in the table follow their ON DELETE, as in the source.
      yield `SET SESSION foreign_key_checks = 1;\nDELETE FROM ${quoteIdentifier(current.table)} WHERE ${softDeleteTest(quoteIdentifier(current.table), current.softDelete)};\n`
        + 'SET SESSION foreign_key_checks = 0;\n';
    }
    batch = undefined;
    current = undefined;
  };
  for await (const event of events) {
    if (event.type === 'row') {
      if (batch === undefined) fail(`data.sql:${event.line}: a row before any table header`);
      const statement = (batch as InsertBatch).add(event.bytes, event.line);
      if (statement !== undefined) yield statement;
      continue;
    }
    yield* closeSection();
    if (event.type === 'table') {
      const section = event.section;
      const excluded = isComplete ? kept.get(section.table) : undefined;
      const problem = excluded === undefined ? undefined : unkeptColumnsProblem(section, excluded);
      if (problem !== undefined) fail(problem);
      sections.push(section);
      current = section;
      const columns = columnList(section.columns);
      yield step(`table ${section.table} (rows)`);
      const isStaged = !isComplete || excluded !== undefined;
      const target = isStaged ? stageOf(section) : quoteIdentifier(section.table);
      if (isStaged) yield `CREATE TEMPORARY TABLE ${target} AS SELECT ${columns} FROM ${quoteIdentifier(section.table)} LIMIT 0;\n`;
      batch = new InsertBatch(`INSERT INTO ${target} (${columns}) VALUES\n`, section, (line, message) => fail(`data.sql:${line}: ${message}`));
    } else if (event.type === 'sequence') {
      fail('a sequence line in a MariaDB dump');
    } else {
      if (event.end.tables !== sections.length) fail(`data.sql ends after ${sections.length} tables, its end line says ${event.end.tables}`);
      hasEnded = true;
    }
  }
  if (!hasEnded) fail('data.sql has no end line: the dump is truncated');
  if (!isComplete) {
    for (const section of [...sections].reverse()) yield* deletes(section, sections, stageOf);
    for (const section of sections) {
      const keysCopy = quoteIdentifier(`cpsbackup_keys_${sections.indexOf(section) + 1}`);
      yield* upsert(section, stageOf, plan.uniqueKeys?.get(section.table) ?? [], keysCopy);
    }
  }
  yield 'SET SESSION foreign_key_checks = 1;\n';
  yield step('check foreign keys');
  yield orphanReferencesCheck(isComplete ? header.tables.map((table) => table.table) : sections.map((section) => section.table));
  yield step('commit');
  yield 'COMMIT;\n';
  // After the rows: created before them, each trigger would fire on every loaded row. In ACTION_ORDER, each last of
  // its table, timing and event: the order of PRECEDES / FOLLOWS comes back. The client stops at the first error.
  for (const trigger of triggers) {
    // Our settings back first: the step's literal is read under ours, not under the trigger's sql_mode and charset.
    yield `${LOAD_SQL_MODE}SET NAMES utf8mb4;\n`;
    yield step(`${TRIGGERS_STEP}: trigger ${trigger.name} on ${trigger.table}`);
    yield createTriggerStatements(trigger);
  }
  for (const event of routines.filter((routine) => routine.kind === 'EVENT')) yield* createRoutine(event, EVENTS_STEP);
}

/**
 * The events a load created disabled that the source ran (createEventExpression): a restored copy runs no
 * scheduled job unasked, as its definer (a tampered routines.jsonl could name root@localhost; found by review).
 */
export async function disabledEventsWarnings(database: string, plan: LoadPlan): Promise<string[]> {
  if (!plan.createsTables || plan.routinesPath === undefined) return [];
  const fail = (message: string): never => {
    throw new Error(message);
  };
  const routines = await readRoutinesFile(plan.routinesPath, fail);
  return routines.filter((routine) => routine.kind === 'EVENT' && routine.status === 'ENABLED').map((event) => {
    const name = `${quoteIdentifier(database)}.${quoteIdentifier(event.name)}`;
    return `event ${name} was enabled in the source; it was created disabled, so it runs nothing until asked: ALTER EVENT ${name} ENABLE`;
  });
}

function* createRoutine(routine: RoutineRecord, stepName: string): Generator<string> {
  // Our settings back first: the step's literal is read under ours, not under the routine's sql_mode and charset.
  yield `${LOAD_SQL_MODE}SET NAMES utf8mb4;\n`;
  yield step(`${stepName}: ${routine.kind.toLowerCase()} ${routine.name}`);
  yield createRoutineStatements(routine);
}

/** The steps that create routines.jsonl's procedures and functions, before schema.sql, and its events, after the commit. */
const ROUTINES_STEP = 'routines.jsonl, before schema.sql';
const EVENTS_STEP = 'routines.jsonl, after the commit';

/** What a load that failed in one of the steps after its rows' commit, or in its routines, leaves. */
export function loadStepFailureNote(step: string): string | undefined {
  if (step.startsWith(ROUTINES_STEP)) {
    return 'The routines before this one were created (MariaDB has no transaction around DDL); no table was. The dump files are kept. '
      + 'Fix the cause (a routine of that name exists in the target database; a routine of another DEFINER needs SUPER or SET USER), '
      + 'then drop the routines created and load again.';
  }
  if (step.startsWith(EVENTS_STEP)) {
    return 'The tables were created, their rows committed and their triggers created before the events: those created before this '
      + 'one exist, the others do not. The dump files are kept. Fix the cause (an event of another DEFINER needs SUPER or SET USER; '
      + 'an event of a named time zone needs the time zone tables), then drop those tables, routines and events and load again.';
  }
  return triggersFailureNote(step);
}

/** The steps that create the triggers of triggers.jsonl, once the rows are committed. */
const TRIGGERS_STEP = 'triggers.jsonl, after the commit';

/** What a load that failed creating a trigger leaves: MariaDB has no transaction around DDL, and the rows went first. */
function triggersFailureNote(step: string): string | undefined {
  if (!step.startsWith(TRIGGERS_STEP)) return undefined;
  return 'The tables were created and their rows committed before the triggers: those created before this one exist, '
    + 'the others do not. The dump files are kept. Fix the cause (a trigger of another DEFINER needs SUPER or SET USER; '
    + 'another table of that database has a trigger of that name), then drop those tables and load again: a load over '
    + 'existing tables keeps their triggers as they are and creates none.';
}

/** The dump's rows with the left-out columns of the same rows as they were here (NULL for a row deleted since), parents' order kept. */
function keptInsert(section: SectionHeader, excluded: readonly { readonly name: string }[], stage: string, keptCopy: string): string {
  const dumped = section.columns.map((column) => `s.${quoteIdentifier(column)}`);
  const left = excluded.map((column) => `k.${quoteIdentifier(column.name)}`);
  const all = columnList([...section.columns, ...excluded.map((column) => column.name)]);
  const match = section.primaryKey.map((key) => `k.${quoteIdentifier(key)} = s.${quoteIdentifier(key)}`).join(' AND ');
  const order = section.primaryKey.map((key) => `s.${quoteIdentifier(key)}`).join(', ');
  return `INSERT INTO ${quoteIdentifier(section.table)} (${all}) SELECT ${[...dumped, ...left].join(', ')} FROM ${stage} AS s `
    + `LEFT JOIN ${keptCopy} AS k ON ${match} ORDER BY ${order};\n`;
}

function* deletes(section: SectionHeader, sections: readonly SectionHeader[], stageOf: (section: SectionHeader) => string): Generator<string> {
  const target = quoteIdentifier(section.table);
  const statements: string[] = [];
  for (const tombstone of sections.filter((candidate) => candidate.tombstoneFor?.table === section.table)) {
    const column = (tombstone.tombstoneFor as { column: string }).column;
    statements.push(`DELETE d FROM ${target} AS d JOIN ${stageOf(tombstone)} AS k ON ${keyMatch('d', 'k', section.primaryKey, [column])};`);
  }
  if (section.rows === 'all') {
    statements.push(section.primaryKey.length > 0
      ? `DELETE d FROM ${target} AS d WHERE NOT EXISTS (SELECT 1 FROM ${stageOf(section)} AS k WHERE ${keyMatch('d', 'k', section.primaryKey)});`
      : `DELETE FROM ${target};`);
  }
  if (section.softDelete !== undefined) {
    statements.push(`DELETE d FROM ${target} AS d JOIN ${stageOf(section)} AS k ON ${keyMatch('d', 'k', section.primaryKey)} `
      + `WHERE ${softDeleteTest('k', section.softDelete)};`);
  }
  if (statements.length === 0) return;
  yield step(`table ${section.table} (deletes)`);
  for (const statement of statements) yield `${statement}\n`;
}

/**
 * ON DUPLICATE KEY UPDATE fires on any unique key: a dumped row whose unique value (an email) a row of
 * another primary key holds here would overwrite that row and never arrive under its own key. So the rows
 * that clash on a unique key with a dumped row go first. One not in the dump can no longer hold that value
 * in the source (deleted, or changed without its since_field moving): it is deleted with foreign key checks
 * on, so its children follow as its ON DELETE says (RESTRICT fails the load, naming the table). One in the
 * dump (a swap of values) is deleted with the checks off and comes back by its own key in the upsert.
 */
function* uniqueClashDeletes(section: SectionHeader, stage: string, uniqueKeys: readonly (readonly UniqueKeyPart[])[], keysCopy: string, filter: string): Generator<string> {
  const comparable = uniqueKeys.filter((key) => key.every((part) => section.columns.includes(part.column)));
  if (section.primaryKey.length === 0 || comparable.length === 0) return;
  const side = (alias: string, part: UniqueKeyPart): string => (part.prefixLength === undefined
    ? `${alias}.${quoteIdentifier(part.column)}` : `LEFT(${alias}.${quoteIdentifier(part.column)}, ${part.prefixLength})`);
  const clash = comparable.map((key) => `(${key.map((part) => `${side('d', part)} = ${side('k', part)}`).join(' AND ')})`).join(' OR ');
  const target = quoteIdentifier(section.table);
  const clashing = `DELETE d FROM ${target} AS d JOIN ${stage} AS k ON ${clash} WHERE NOT (${keyMatch('d', 'k', section.primaryKey)})${filter}`;
  yield step(`table ${section.table} (rows clashing on a unique key)`);
  yield `CREATE TEMPORARY TABLE ${keysCopy} AS SELECT ${columnList(section.primaryKey)} FROM ${stage};\n`;
  yield `${clashing} AND NOT EXISTS (SELECT 1 FROM ${keysCopy} AS s WHERE ${keyMatch('d', 's', section.primaryKey)});\n`;
  yield `SET SESSION foreign_key_checks = 0;\n${clashing};\nSET SESSION foreign_key_checks = 1;\n`;
}

function* upsert(section: SectionHeader, stageOf: (section: SectionHeader) => string, uniqueKeys: readonly (readonly UniqueKeyPart[])[], keysCopy: string): Generator<string> {
  const columns = columnList(section.columns);
  const isKept = section.softDelete === undefined ? '' : `(${softDeleteTest('k', section.softDelete)}) IS NOT TRUE`;
  const filter = isKept === '' ? '' : ` WHERE ${isKept}`;
  const order = section.primaryKey.length === 0 ? '' : ` ORDER BY ${section.primaryKey.map((key) => `k.${quoteIdentifier(key)}`).join(', ')}`;
  const insert = `INSERT INTO ${quoteIdentifier(section.table)} (${columns}) SELECT ${columns} FROM ${stageOf(section)} AS k${filter}${order}`;
  yield* uniqueClashDeletes(section, stageOf(section), uniqueKeys, keysCopy, isKept === '' ? '' : ` AND ${isKept}`);
  yield step(`table ${section.table} (upsert)`);
  if (section.primaryKey.length === 0) {
    yield `SET SESSION foreign_key_checks = 0;\n${insert};\nSET SESSION foreign_key_checks = 1;\n`;
    return;
  }
  const updated = section.columns.filter((column) => !section.primaryKey.includes(column));
  // A row that exists takes the dump's values; with nothing but key columns, re-setting the key changes nothing.
  const assignments = (updated.length === 0 ? [section.primaryKey[0]] : updated)
    .map((column) => `${quoteIdentifier(column)} = VALUES(${quoteIdentifier(column)})`).join(', ');
  // Checks off: a row may reference a later one (checked after the load); the deletes above keep them on, to cascade.
  yield `SET SESSION foreign_key_checks = 0;\n${insert} ON DUPLICATE KEY UPDATE ${assignments};\nSET SESSION foreign_key_checks = 1;\n`;
}
