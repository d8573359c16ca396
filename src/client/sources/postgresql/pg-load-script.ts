// The psql script that loads a restored data.sql, streamed into psql's stdin inside one transaction
// (so a failure anywhere leaves the database as it was). Complete: create the tables from the
// dumped schema's pre-data when none exists, else empty them (TRUNCATE), then COPY each table in order (a
// table with columns left out of the dump through a stage joined to its rows copied aside: kept-columns.ts),
// then the schema's post-data (indexes, constraints, triggers, REFRESH), as pg_restore does. Over existing
// tables their triggers are off while the rows change (pg-load-triggers.ts), and partitions the source's
// trees no longer hold are detached (never dropped) before any row goes in (pg-partition-sync.ts).
// Partial: COPY every table into a temp stage, then delete (children first) and upsert by primary
// key (parents first). Every statement that reads or removes a table's rows says ONLY: an INHERITS
// parent's TRUNCATE or DELETE reached its children's rows too (tables of their own, maybe not in the dump).
// But for a table partitioned in the target: its rows are its partitions' (ONLY reaches none of them,
// and TRUNCATE ONLY fails), and a partitioned table cannot have INHERITS children.
import { randomBytes } from 'node:crypto';
import { LoadFailedError } from '../../../common/errors';
import type { DataEvent } from '../tables/data-reader';
import type { DataHeader, SectionHeader, SequenceValue, SoftDelete } from '../tables/data-format';
import { STEP_MARKER, type LoadPlan } from '../tables/dialect';
import { keptColumnsOf, unkeptColumnsProblem } from '../tables/kept-columns';
import { truncateStatement } from './pg-truncate';
import { columnList, doBlock, qualifiedName, quoteIdentifier, quoteLiteral, ROW_SECURITY_OFF, SESSION_TIMEOUTS } from './pg-sql';
import { schemaSection } from './pg-schema-sections';
import { disableTriggers, enableTriggers } from './pg-load-triggers';
import { partitionSync } from './pg-partition-sync';

const SEQUENCE_NAME = /^("([^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)\.("([^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)$/;

/**
 * psql's restricted mode for the whole script, the guard pg_dump itself writes since CVE-2025-8714: a
 * dump's rows and schema are data, but psql obeys backslash commands anywhere in its input. A data.sql
 * row ending in a carriage return followed by `\.` + CR ends the COPY early for psql (not for the data
 * reader), and the lines after it ran as psql commands, `\! cmd` included. The key is new for every
 * load, so no dump can hold the line that lifts it; only the script's own step markers lift it, and
 * restore it in the same breath.
 */
class RestrictedMode {
  private readonly key = randomBytes(24).toString('hex');

  get enter(): string {
    return `\\restrict ${this.key}\n`;
  }

  /**
   * The marker's text is a dump's table name: a line feed in it would end the \echo line inside its
   * quote (psql reads on), and the dump's next words would run unrestricted. Every control character
   * is written as psql's own \xNN escape, which \echo prints back.
   */
  step(text: string): string {
    const quoted = text.replaceAll('\\', '\\\\').replaceAll("'", "''")
      .replace(/[\u0000-\u001f\u007f]/g, (character) => `\\x${character.charCodeAt(0).toString(16).padStart(2, '0')}`);
    return `\\unrestrict ${this.key}\n\\echo '${STEP_MARKER}${quoted}'\n${this.enter}`;
  }
}

function softDeleteTest(alias: string, softDelete: SoftDelete): string {
  const column = `${alias}.${quoteIdentifier(softDelete.column)}`;
  if (softDelete.when === 'true') return `${column} IS TRUE`;
  return softDelete.when === 'nonzero' ? `${column} <> 0` : `${column} IS NOT NULL`;
}

function keyMatch(left: string, right: string, keys: readonly string[], rightKeys = keys): string {
  return keys.map((key, index) => `${left}.${quoteIdentifier(key)} = ${right}.${quoteIdentifier(rightKeys[index])}`).join(' AND ');
}

/** The schema a load writes to, and looks for its tables in: the dump's own (schema.sql's names are qualified by it). */
export function loadSchemaOf(header: DataHeader): string {
  return header.schema ?? 'public';
}

export async function* pgLoadScript(header: DataHeader, events: AsyncIterable<DataEvent>, plan: LoadPlan): AsyncGenerator<string | Buffer> {
  const schema = loadSchemaOf(header);
  const tableName = (table: string): string => qualifiedName(schema, table);
  const onlyTable = (table: string): string => (plan.partitionedTables?.has(table) === true ? tableName(table) : `ONLY ${tableName(table)}`);
  const isComplete = header.backup === 'complete';
  const kept = keptColumnsOf(header, plan);
  const keptOf = (table: string): string => quoteIdentifier(`cpsbackup_kept_${header.tables.findIndex((summary) => summary.table === table) + 1}`);
  const fail = (message: string): never => {
    throw new LoadFailedError(header.source, message);
  };
  const restricted = new RestrictedMode();
  const step = (text: string): string => restricted.step(text);
  yield restricted.enter;
  // Row security off: a policy on a target table would otherwise let a DELETE (tombstones, mirror, soft
  // deletes) or the copy of kept columns see only some rows and pass; now such a statement fails, named.
  yield `SET client_min_messages = warning;\nSET standard_conforming_strings = on;\n${SESSION_TIMEOUTS}\n${ROW_SECURITY_OFF}\nBEGIN;\n`;
  if (isComplete && plan.createsTables) {
    if (plan.schemaPath === undefined) fail('a complete dump needs its schema.sql beside data.sql');
    yield step('schema');
    yield `CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(schema)};\n`;
    yield* schemaSection(plan.schemaPath as string, schema, 'pre-data');
  }
  const isOverExisting = !plan.createsTables && header.tables.length > 0;
  const partitions = isOverExisting ? partitionSync(schema, header) : undefined;
  if (isOverExisting) {
    // The tables are there with their triggers: off while their rows change, as pg_restore --disable-triggers.
    yield step('disable triggers');
    yield disableTriggers(header.tables.map((table) => tableName(table.table)), isComplete);
  }
  if (isComplete && !plan.createsTables && header.tables.length > 0) {
    // The tables exist: their definitions stay, their rows are replaced (TRUNCATE is transactional here).
    if (kept.size > 0) yield step('keep the columns left out of the dump');
    for (const table of kept.keys()) yield `CREATE TEMP TABLE ${keptOf(table)} ON COMMIT DROP AS SELECT * FROM ${onlyTable(table)};\n`;
    yield step('truncate');
    yield truncateStatement(header.tables.map((table) => onlyTable(table.table)), header.tables.map((table) => tableName(table.table)));
    if (partitions !== undefined) yield `${step('partitions gone from the source')}${partitions}`;
  }
  const sections: SectionHeader[] = [];
  const sequences: SequenceValue[] = [];
  let current: SectionHeader | undefined;
  let hasEnded = false;
  const stageOf = (section: SectionHeader): string => quoteIdentifier(`cpsbackup_stage_${sections.indexOf(section) + 1}`);
  const closeSection = function* (): Generator<string> {
    if (current === undefined) return;
    yield '\\.\n';
    const excluded = isComplete ? kept.get(current.table) : undefined;
    if (excluded !== undefined) yield keptInsert(current, excluded, tableName(current.table), stageOf(current), keptOf(current.table));
    if (isComplete && current.softDelete !== undefined) {
      yield `DELETE FROM ${onlyTable(current.table)} AS d WHERE ${softDeleteTest('d', current.softDelete)};\n`;
    }
    current = undefined;
  };
  for await (const event of events) {
    if (event.type === 'row') {
      yield event.bytes;
      yield '\n';
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
      if (excluded !== undefined) {
        yield `CREATE TEMP TABLE ${stageOf(section)} ON COMMIT DROP AS SELECT ${columns} FROM ${tableName(section.table)} WITH NO DATA;\n`;
        yield `COPY ${stageOf(section)} (${columns}) FROM stdin;\n`;
      } else if (isComplete) {
        const summary = header.tables.find((table) => table.table === section.table);
        for (const column of plan.createsTables ? summary?.excludedColumns ?? [] : []) {
          // Excluded columns are not in the dump: the table created here lets them be NULL.
          if (!column.isNullable) yield dropNotNull(tableName(section.table), column.name);
        }
        yield `COPY ${tableName(section.table)} (${columns}) FROM stdin;\n`;
      } else {
        yield `CREATE TEMP TABLE ${stageOf(section)} ON COMMIT DROP AS SELECT ${columns} FROM ${tableName(section.table)} WITH NO DATA;\n`;
        yield `COPY ${stageOf(section)} (${columns}) FROM stdin;\n`;
      }
    } else if (event.type === 'sequence') {
      if (!SEQUENCE_NAME.test(event.value.name) || !/^-?\d+$/.test(event.value.lastValue)) fail(`bad sequence line ${JSON.stringify(event.value)}`);
      sequences.push(event.value);
    } else {
      if (event.end.tables !== sections.length) fail(`data.sql ends after ${sections.length} tables, its end line says ${event.end.tables}`);
      hasEnded = true;
    }
  }
  if (!hasEnded) fail('data.sql has no end line: the dump is truncated');
  if (!isComplete) {
    for (const section of [...sections].reverse()) yield* deletes(section, sections, onlyTable, stageOf, step);
    if (partitions !== undefined) yield `${step('partitions gone from the source')}${partitions}`;
    for (const section of sections) yield* upsert(section, tableName, stageOf, step);
  }
  if (isComplete && plan.createsTables) {
    yield step('schema (indexes, constraints, triggers)');
    yield* schemaSection(plan.schemaPath as string, schema, 'post-data');
  }
  if (isOverExisting) {
    yield step('enable triggers');
    yield enableTriggers();
  }
  if (sequences.length > 0) yield step('sequences');
  for (const sequence of sequences) {
    const value = `${sequence.lastValue}, ${sequence.isCalled ? 'true' : 'false'}`;
    // A partial never moves a sequence back: the copy may have handed out values of its own.
    yield isComplete ? `SELECT pg_catalog.setval(${quoteLiteral(sequence.name)}, ${value});\n`
      : `SELECT pg_catalog.setval(${quoteLiteral(sequence.name)}, ${value}) FROM ${sequence.name} WHERE last_value < ${sequence.lastValue};\n`;
  }
  yield step('commit');
  yield 'COMMIT;\n';
}

/**
 * A partition's NOT NULL that its partitioned parent has too can only be dropped on the parent (which
 * drops it on every partition): the root of the table's partition tree, or the table itself.
 */
function dropNotNull(table: string, column: string): string {
  const relation = `${quoteLiteral(table)}::pg_catalog.regclass`;
  return `${doBlock(`BEGIN EXECUTE pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I DROP NOT NULL', `
    + `coalesce(pg_catalog.pg_partition_root(${relation}), ${relation}), ${quoteLiteral(column)}); END`)}\n`;
}

/** The dump's rows with the left-out columns of the same rows as they were here (NULL for a row deleted since). */
function keptInsert(section: SectionHeader, excluded: readonly { readonly name: string }[], target: string, stage: string, keptCopy: string): string {
  const dumped = section.columns.map((column) => `s.${quoteIdentifier(column)}`);
  const left = excluded.map((column) => `k.${quoteIdentifier(column.name)}`);
  const all = columnList([...section.columns, ...excluded.map((column) => column.name)]);
  const match = section.primaryKey.map((key) => `k.${quoteIdentifier(key)} = s.${quoteIdentifier(key)}`).join(' AND ');
  return `INSERT INTO ${target} (${all}) OVERRIDING SYSTEM VALUE SELECT ${[...dumped, ...left].join(', ')} FROM ${stage} AS s LEFT JOIN ${keptCopy} AS k ON ${match};\n`;
}

/** Tombstoned rows, rows gone from a table dumped whole, soft-deleted rows: before any upsert. `onlyTable`: `ONLY "schema"."table"` (or not, partitioned). */
function* deletes(section: SectionHeader, sections: readonly SectionHeader[], onlyTable: (table: string) => string,
  stageOf: (section: SectionHeader) => string, step: (text: string) => string): Generator<string> {
  const target = onlyTable(section.table);
  const statements: string[] = [];
  for (const tombstone of sections.filter((candidate) => candidate.tombstoneFor?.table === section.table)) {
    const column = (tombstone.tombstoneFor as { column: string }).column;
    statements.push(`DELETE FROM ${target} AS d USING ${stageOf(tombstone)} AS k WHERE ${keyMatch('d', 'k', section.primaryKey, [column])};`);
  }
  if (section.rows === 'all') {
    statements.push(section.primaryKey.length > 0
      ? `DELETE FROM ${target} AS d WHERE NOT EXISTS (SELECT 1 FROM ${stageOf(section)} AS k WHERE ${keyMatch('d', 'k', section.primaryKey)});`
      : `DELETE FROM ${target};`);
  }
  if (section.softDelete !== undefined) {
    statements.push(`DELETE FROM ${target} AS d USING ${stageOf(section)} AS k WHERE ${keyMatch('d', 'k', section.primaryKey)} `
      + `AND ${softDeleteTest('k', section.softDelete)};`);
  }
  if (statements.length === 0) return;
  yield step(`table ${section.table} (deletes)`);
  for (const statement of statements) yield `${statement}\n`;
}

function* upsert(section: SectionHeader, tableName: (table: string) => string, stageOf: (section: SectionHeader) => string,
  step: (text: string) => string): Generator<string> {
  const columns = columnList(section.columns);
  const filter = section.softDelete === undefined ? '' : ` WHERE (${softDeleteTest('k', section.softDelete)}) IS NOT TRUE`;
  const insert = `INSERT INTO ${tableName(section.table)} (${columns}) OVERRIDING SYSTEM VALUE SELECT ${columns} FROM ${stageOf(section)} AS k${filter}`;
  yield step(`table ${section.table} (upsert)`);
  if (section.primaryKey.length === 0) {
    yield `${insert};\n`;
    return;
  }
  const updated = section.columns.filter((column) => !section.primaryKey.includes(column));
  const action = updated.length === 0 ? 'DO NOTHING'
    : `DO UPDATE SET ${updated.map((column) => `${quoteIdentifier(column)} = EXCLUDED.${quoteIdentifier(column)}`).join(', ')}`;
  yield `${insert} ON CONFLICT (${columnList(section.primaryKey)}) ${action};\n`;
}
