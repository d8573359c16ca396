// Reads a database's base tables from information_schema as JSON lines (tables, columns, primary
// keys, foreign-key parents, the database's charset), and each since_field's largest value.
import type { ColumnInfo, DatabaseCatalog, TableInfo, ValueClass } from '../tables/catalog';
import type { TablePlan } from '../tables/table-plan';
import { quoteIdentifier, quoteLiteral, SESSION_SETTINGS } from './mariadb-sql';

export function catalogQuery(database: string): string {
  const schema = quoteLiteral(database);
  return [
    `SELECT JSON_OBJECT('kind', 'database', 'charset', DEFAULT_CHARACTER_SET_NAME, 'collation', DEFAULT_COLLATION_NAME)
      FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ${schema};`,
    // Only the tables the user holds some privilege on: without `tables =` the dialect first makes sure
    // the user may read the whole database (mariadb-grants.ts), else a table would be left out unseen.
    // System-versioned tables and sequences too: not dumped (their history or state is not plain rows),
    // but listed, so that the plan fails naming them rather than leave them out unseen.
    `SELECT JSON_OBJECT('kind', 'table', 'table', TABLE_NAME, 'tableType', TABLE_TYPE) FROM information_schema.TABLES
      WHERE TABLE_SCHEMA = ${schema} AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED', 'SEQUENCE') ORDER BY TABLE_NAME;`,
    `SELECT JSON_OBJECT('kind', 'column', 'table', TABLE_NAME, 'name', COLUMN_NAME, 'dataType', DATA_TYPE,
        'columnType', COLUMN_TYPE, 'isNullable', IS_NULLABLE = 'YES', 'extra', EXTRA,
        'charset', CHARACTER_SET_NAME, 'collation', COLLATION_NAME)
      FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ${schema} ORDER BY TABLE_NAME, ORDINAL_POSITION;`,
    `SELECT JSON_OBJECT('kind', 'primary', 'table', TABLE_NAME, 'name', COLUMN_NAME) FROM information_schema.KEY_COLUMN_USAGE
      WHERE TABLE_SCHEMA = ${schema} AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY TABLE_NAME, ORDINAL_POSITION;`,
    `SELECT JSON_OBJECT('kind', 'parent', 'table', TABLE_NAME, 'parent', REFERENCED_TABLE_NAME) FROM information_schema.KEY_COLUMN_USAGE
      WHERE TABLE_SCHEMA = ${schema} AND REFERENCED_TABLE_SCHEMA = ${schema} AND REFERENCED_TABLE_NAME IS NOT NULL;`,
    '',
  ].join('\n');
}

interface Row {
  kind: 'database' | 'table' | 'column' | 'primary' | 'parent';
  table: string;
  tableType: string;
  name: string;
  parent: string;
  dataType: string;
  columnType: string;
  isNullable: number | boolean;
  extra: string | null;
  charset: string | null;
  collation: string | null;
}

const BINARY_TYPES = new Set(['binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob', 'geometry', 'point',
  'linestring', 'polygon', 'multipoint', 'multilinestring', 'multipolygon', 'geometrycollection']);

function valueClassOf(dataType: string): ValueClass {
  if (['datetime', 'timestamp', 'date'].includes(dataType)) return 'time';
  if (['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint'].includes(dataType)) return 'integer';
  if (dataType === 'decimal') return 'decimal';
  if (dataType === 'float') return 'float';
  if (dataType === 'double') return 'double';
  if (dataType === 'bit') return 'bit';
  return BINARY_TYPES.has(dataType) ? 'binary' : 'text';
}

const NOT_PLAIN_ROWS: Readonly<Record<string, string>> = { 'SYSTEM VERSIONED': 'system-versioned', SEQUENCE: 'a sequence' };

/** VIRTUAL / STORED / PERSISTENT GENERATED; MySQL's DEFAULT_GENERATED is an ordinary column with an expression default. */
const GENERATED = /\b(VIRTUAL|STORED|PERSISTENT) GENERATED\b/i;

export function parseCatalog(answer: string): DatabaseCatalog {
  const rows = answer.split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as Row);
  const database = rows.find((row) => row.kind === 'database');
  const of = (kind: Row['kind'], table: string): Row[] => rows.filter((row) => row.kind === kind && row.table === table);
  const tables: TableInfo[] = rows.filter((row) => row.kind === 'table').map((row) => ({
    name: row.table,
    columns: of('column', row.table).map((column): ColumnInfo => ({
      name: column.name,
      type: column.columnType,
      valueClass: valueClassOf(column.dataType.toLowerCase()),
      isGenerated: GENERATED.test(column.extra ?? ''),
      isNullable: column.isNullable === true || column.isNullable === 1,
      definition: `${column.columnType}${column.charset === null ? '' : ` CHARACTER SET ${column.charset} COLLATE ${column.collation}`}`,
      ...(column.charset === null ? {} : { charset: column.charset }),
    })),
    primaryKey: of('primary', row.table).map((key) => key.name),
    parents: [...new Set(of('parent', row.table).map((reference) => reference.parent))].filter((parent) => parent !== row.table),
    sequences: [],
    ...(NOT_PLAIN_ROWS[row.tableType] === undefined ? {} : { notPlainRows: NOT_PLAIN_ROWS[row.tableType] }),
  }));
  return { tables, charset: database?.charset ?? undefined, collation: database?.collation ?? undefined };
}

export function marksQuery(plans: readonly TablePlan[]): string | undefined {
  const selects = plans.flatMap((plan) => (plan.sinceColumn === undefined ? [] : [
    `SELECT JSON_OBJECT('table', ${quoteLiteral(plan.table.name)}, 'mark', CAST(MAX(${quoteIdentifier(plan.sinceColumn.name)}) AS CHAR)) `
    + `FROM ${quoteIdentifier(plan.table.name)};`,
  ]));
  return selects.length === 0 ? undefined : `${SESSION_SETTINGS}${selects.join('\n')}\n`;
}

export function parseMarks(answer: string): Map<string, string> {
  const marks = new Map<string, string>();
  for (const line of answer.split('\n')) {
    if (line.trim() === '') continue;
    const { table, mark } = JSON.parse(line) as { table: string; mark: string | null };
    if (mark !== null) marks.set(table, mark);
  }
  return marks;
}
