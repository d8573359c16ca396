// Decides, from storage.conf and the catalog, which tables and columns a dump holds, in which
// order, and which rows a partial takes; every mistake is a DumpFailedError naming the line.
import { DumpFailedError } from '../../../common/errors';
import { shown } from '../../../common/config/display';
import { isHiddenCodePoint } from '../../../common/hidden-characters';
import type { ColumnReference, NamedReference } from '../database-config';
import type { DatabaseSource } from '../storage-config';
import type { ColumnInfo, DatabaseCatalog, TableInfo } from './catalog';
import { refuseLargeObjects } from './large-objects';
import { loadOrder } from './load-order';
import { markOf } from './marks';
import { partitionLeaves, rowTablesOf } from './partitions';
import type { SoftDelete } from './data-format';

export interface TablePlan {
  readonly table: TableInfo;
  /** Dumped columns, in the table's order: neither excluded nor generated. */
  readonly columns: readonly ColumnInfo[];
  readonly excludedColumns: readonly ColumnInfo[];
  /** The configured since_field: its mark is recorded by every backup, complete or partial. */
  readonly sinceColumn?: ColumnInfo;
  /** Partial backups only: dump rows with sinceColumn at or past this mark minus the overlap. */
  readonly sinceMark?: string;
  readonly tombstoneFor?: { readonly table: string; readonly column: string };
  readonly softDelete?: SoftDelete;
}

export interface TablePlanOptions {
  readonly isPartial: boolean;
  /** Labels of the backup a partial follows (its marks); undefined: every table is dumped whole. */
  readonly baseLabels?: Readonly<Record<string, string>>;
}

const SINCE_CLASSES = new Set(['time', 'integer', 'decimal']);

/** C0 controls and DEL: a newline or carriage return in a name would split data.sql's one-item-per-line format. */
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;

/**
 * Refused rather than escaped: data.sql prints names raw in its COPY and INSERT lines, so a table "a\nb"
 * spilled a line that the loader read as a row. Names come out escaped (\\x0a), so the message stays one line.
 */
function refuseControlCharacters(source: DatabaseSource, tables: readonly TableInfo[], fail: (line: number, message: string) => never): void {
  const why = 'a control character (a newline?), which would break data.sql\'s one line per row; rename it';
  const quoted = (name: string): string => `"${shown(name)}"`;
  if (source.kind === 'postgresql' && CONTROL_CHARACTER.test(source.schema)) fail(source.line, `schema ${quoted(source.schema)} has ${why}`);
  for (const table of tables) {
    if (CONTROL_CHARACTER.test(table.name)) fail(source.line, `table ${quoted(table.name)} has ${why}, or leave it out with tables =`);
    for (const column of table.columns.filter((candidate) => CONTROL_CHARACTER.test(candidate.name))) {
      fail(source.line, `column ${quoted(column.name)} of table ${quoted(table.name)} has ${why}`);
    }
  }
}

/**
 * Whether a name holds a character the server escapes in a label key (received-begin.ts): the same
 * rule, so that a name kept intact there is exactly a name allowed here.
 */
function hasHiddenCharacter(name: string): boolean {
  for (const character of name) {
    if (isHiddenCodePoint(character.codePointAt(0)!)) return true;
  }
  return false;
}

/**
 * A partition tree reaching into another schema, or onto another server (a foreign partition): the dump
 * reads one schema's tables, so the rows of the leaves elsewhere would be missing (or a leaf here would
 * load under a parent schema.sql lacks), and a load's TRUNCATE of the parent would empty a foreign one's
 * remote table.
 */
function refusePartitionsElsewhere(dumped: readonly TableInfo[], chosen: readonly TableInfo[], byName: ReadonlyMap<string, TableInfo>,
  lineOf: (table: TableInfo) => number, fail: (line: number, message: string) => never): void {
  const ancestors = dumped.flatMap((table) => (table.partitionOf ?? []).flatMap((name) => byName.get(name) ?? []));
  for (const table of [...dumped, ...chosen, ...ancestors]) {
    const elsewhere = table.partitionsElsewhere ?? [];
    if (elsewhere.length === 0) continue;
    fail(lineOf(table), `table ${table.name} is in a partition tree that reaches into another schema or server (${elsewhere.join(', ')}): `
      + 'kind postgresql dumps one schema\'s own tables, and those rows would be missing; add it to exclude_tables or back it up with a command source');
  }
}

/**
 * A partition's key is in every unique key of its table, so a row whose partition key changes moves to
 * another partition under another primary key: a partial's upsert would keep its old copy beside the new.
 * Tables without a since_field are dumped whole in partials and mirrored, which moves it.
 */
function refusePartitionedSince(table: TableInfo | undefined, line: number, fail: (line: number, message: string) => never): void {
  if (table === undefined) return;
  const what = table.isPartitioned === true ? 'is partitioned' : table.partitionOf?.length ? `is a partition of ${table.partitionOf[0]}` : undefined;
  if (what === undefined) return;
  fail(line, `since_field: table ${table.name} ${what}: a row whose partition key is updated moves to another partition under another `
    + 'primary key, and a partial load would keep its old copy beside the new one; drop the since_field (partials then dump its '
    + 'partitions whole and mirror them)');
}

/** The tables to dump, in load order. */
export function planTables(source: DatabaseSource, catalog: DatabaseCatalog, options: TablePlanOptions): TablePlan[] {
  const fail = (line: number, message: string): never => {
    throw new DumpFailedError(source.name, `${source.file}:${line}: ${message}`);
  };
  const where = source.kind === 'postgresql' ? `schema ${source.schema} of database ${source.database}` : `database ${source.database}`;
  const byName = new Map(catalog.tables.map((table) => [table.name, table]));
  const known = (reference: NamedReference, key: string): TableInfo =>
    byName.get(reference.name) ?? fail(reference.line, `${key}: no table ${reference.name} in ${where}`);
  const columnOf = (table: TableInfo, reference: ColumnReference, key: string): ColumnInfo =>
    table.columns.find((column) => column.name === reference.column)
      ?? fail(reference.line, `${key}: table ${table.name} has no column ${reference.column}`);

  // A partitioned table holds no rows: wherever storage.conf names one, it stands for its leaf partitions
  // (tables = and exclude_tables, exclude_columns, order); each leaf is dumped as a table of its own.
  const leaves = partitionLeaves(catalog.tables);
  const rowTables = (table: TableInfo): readonly TableInfo[] => rowTablesOf(table, leaves);
  const excludedTables = new Set(source.excludeTables.flatMap((reference) => {
    const table = known(reference, 'exclude_tables');
    return [table, ...rowTables(table)].map((excludedTable) => excludedTable.name);
  }));
  const chosen = source.tables.length > 0 ? source.tables.map((reference) => known(reference, 'tables')) : catalog.tables;
  const tables = [...new Map(chosen.flatMap(rowTables).map((table) => [table.name, table])).values()]
    .filter((table) => !excludedTables.has(table.name));
  const lineOf = (table: TableInfo): number => source.tables
    .find((reference) => reference.name === table.name || table.partitionOf?.includes(reference.name) === true)?.line ?? source.line;
  refusePartitionsElsewhere(tables, chosen.filter((table) => !excludedTables.has(table.name)), byName, lineOf, fail);
  // The dump runs with row_security off (pg-dump-script.ts), so such a table would fail it anyway;
  // refused here first to say what to do. With it on, COPY returned only the rows a policy let the
  // role see (none, for a tenant policy), and the backup passed.
  for (const table of tables.filter((candidate) => candidate.isRowFiltered)) {
    const role = catalog.role === undefined ? 'the role the source connects as' : `role ${catalog.role}`;
    // An owner is under its own table's policies only through FORCE: connecting as the owner would change nothing.
    const connectAs = table.isOwnedByRole === true ? 'remove FORCE ROW LEVEL SECURITY from it (ALTER TABLE ... NO FORCE ROW LEVEL SECURITY), '
      + 'connect as a superuser' : 'connect as the table\'s owner (without FORCE ROW LEVEL SECURITY) or a superuser';
    fail(lineOf(table), `table ${table.name} has row-level security that applies to ${role}: the dump would hold only the rows `
      + `a policy lets it see; grant it BYPASSRLS (ALTER ROLE ... BYPASSRLS), ${connectAs}, or add the table to exclude_tables`);
  }
  for (const table of tables.filter((candidate) => candidate.notPlainRows !== undefined)) {
    fail(lineOf(table), `table ${table.name} is ${table.notPlainRows}: its content is not dumped by kind ${source.kind}; add it to `
      + 'exclude_tables (a complete load then recreates it empty, or at its start value) or back it up with a command source');
  }
  refuseControlCharacters(source, tables, fail);
  const dumped = new Map(tables.map((table) => [table.name, table]));
  const dumpedTable = (reference: ColumnReference | NamedReference, key: string): TableInfo => {
    const name = 'table' in reference ? reference.table : reference.name;
    const table = byName.get(name) ?? fail(reference.line, `${key}: no table ${name} in ${where}`);
    if (table.isPartitioned === true) {
      fail(reference.line, `${key}: table ${table.name} is partitioned: it holds no rows of its own (its partitions `
        + `${rowTables(table).map((leaf) => leaf.name).join(', ') || '(none)'} do); name a partition`);
    }
    return dumped.get(name) ?? fail(reference.line, `${key}: table ${table.name} is not dumped (tables / exclude_tables)`);
  };

  // A misspelt exclusion would dump the very column it was meant to keep out: every one must match.
  const excluded = new Map<string, Set<string>>();
  for (const reference of source.excludeColumns) {
    const table = byName.get(reference.table) ?? fail(reference.line, `exclude_columns: no table ${reference.table} in ${where}`);
    columnOf(table, reference, 'exclude_columns');
    if (table.primaryKey.includes(reference.column)) {
      fail(reference.line, `exclude_columns: ${reference.table}.${reference.column} is part of the primary key; rows could not be loaded without it`);
    }
    // Partitions have their parent's columns, by name: the column is left out of every leaf.
    for (const leaf of rowTables(table)) {
      if (leaf.primaryKey.includes(reference.column)) {
        fail(reference.line, `exclude_columns: ${leaf.name}.${reference.column} is part of the primary key; rows could not be loaded without it`);
      }
      // Loaded without it, a row belongs in no partition (or another): every load would fail.
      if (leaf.partitionKey?.includes(reference.column) === true || table.partitionKey?.includes(reference.column) === true) {
        fail(reference.line, `exclude_columns: ${leaf.name}.${reference.column} is part of a partition key; rows could not be loaded without it`);
      }
      excluded.set(leaf.name, (excluded.get(leaf.name) ?? new Set()).add(reference.column));
    }
  }
  refuseLargeObjects(source, catalog, fail);

  const since = new Map<string, ColumnInfo>();
  for (const reference of source.sinceFields) {
    refusePartitionedSince(byName.get(reference.table), reference.line, fail);
    const table = dumpedTable(reference, 'since_field');
    const column = columnOf(table, reference, 'since_field');
    if (!SINCE_CLASSES.has(column.valueClass)) {
      fail(reference.line, `since_field: ${table.name}.${column.name} is ${column.type}; it must be a timestamp, a date or an increasing number`);
    }
    if (excluded.get(table.name)?.has(column.name)) fail(reference.line, `since_field: ${table.name}.${column.name} is excluded by exclude_columns`);
    // Refused rather than dumped with `OR ... IS NULL`: such rows would go into every partial, forever,
    // and still carry no mark. NULL is never >= a mark, so they would otherwise be in no partial at all.
    // Partials only: a complete backup dumps every row, NULL or not, and must not be lost for them.
    // The mark is read back from label `mark.<source>.<table>.<column>`, whose key the server keeps with
    // every hidden character escaped (a soft hyphen, U+200F, a C1 control): markOf would never find it,
    // and every partial would dump the table whole, unseen. Source names are ASCII (storage-config.ts).
    const hidden = [table.name, column.name].find(hasHiddenCharacter);
    if (hidden !== undefined && options.isPartial) {
      fail(reference.line, `since_field: ${hidden === table.name ? 'table' : `column "${shown(column.name)}" of table`} "${shown(table.name)}" `
        + 'has a hidden character (a control or format character: a soft hyphen, a bidi mark…), which the server escapes in the key '
        + 'of the table\'s mark label, so no partial would find its mark; rename it or drop its since_field');
    }
    if (column.isNullable && options.isPartial) {
      fail(reference.line, `since_field: ${table.name}.${column.name} may be NULL, and a row where it is NULL would be in no partial backup; `
        + 'make the column NOT NULL (with a default) or choose another');
    }
    if (table.primaryKey.length === 0) {
      fail(reference.line, `since_field: table ${table.name} has no primary key; a partial load could not upsert its rows`);
    }
    since.set(table.name, column);
  }

  const tombstones = new Map<string, { table: string; column: string }>();
  const softDeletes = new Map<string, SoftDelete>();
  for (const { table: targetName, from } of source.deletesFrom) {
    const target = dumpedTable({ name: targetName, line: from.line }, 'deletes_from');
    const tombstone = dumpedTable(from, 'deletes_from');
    const column = columnOf(tombstone, from, 'deletes_from');
    if (excluded.get(tombstone.name)?.has(column.name)) fail(from.line, `deletes_from: ${tombstone.name}.${column.name} is excluded by exclude_columns`);
    if (tombstone.name === target.name) {
      if (target.primaryKey.length === 0) fail(from.line, `deletes_from: table ${target.name} has no primary key`);
      const when = column.valueClass === 'boolean' ? 'true' : column.valueClass === 'integer' ? 'nonzero' : 'set';
      softDeletes.set(target.name, { column: column.name, when });
      continue;
    }
    if (target.primaryKey.length !== 1) {
      fail(from.line, `deletes_from: table ${target.name} needs a one-column primary key for ${tombstone.name}.${column.name} to name its rows`);
    }
    if (tombstones.has(tombstone.name)) fail(from.line, `deletes_from: ${tombstone.name} is already the tombstone table of ${tombstones.get(tombstone.name)?.table}`);
    tombstones.set(tombstone.name, { table: target.name, column: column.name });
  }

  const order = source.order.flatMap((reference) => {
    const table = byName.get(reference.name);
    return table?.isPartitioned === true ? rowTables(table).map((leaf) => leaf.name) : [dumpedTable(reference, 'order').name];
  });
  // A foreign key to a partitioned table is a key to each of its leaves, which are what is loaded.
  const ordered = tables.map((table) => ({
    name: table.name, parents: table.parents.flatMap((parent) => (byName.has(parent) ? rowTables(byName.get(parent) as TableInfo) : []).map((row) => row.name)),
  }));
  return loadOrder(ordered, order).map((name) => {
    const table = dumped.get(name) as TableInfo;
    const skipped = excluded.get(name) ?? new Set<string>();
    const columns = table.columns.filter((column) => !column.isGenerated && !skipped.has(column.name));
    if (columns.length === 0) throw new DumpFailedError(source.name, `table ${name} has no column left to dump (all excluded or generated)`);
    const sinceColumn = since.get(name);
    const sinceMark = options.isPartial && sinceColumn !== undefined
      ? markOf(options.baseLabels, source.name, name, sinceColumn.name, sinceColumn.valueClass === 'time') : undefined;
    return {
      table,
      columns,
      excludedColumns: table.columns.filter((column) => skipped.has(column.name)),
      sinceColumn,
      sinceMark,
      tombstoneFor: tombstones.get(name),
      softDelete: softDeletes.get(name),
    };
  });
}
