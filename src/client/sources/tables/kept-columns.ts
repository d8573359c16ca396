// Columns a dump left out (exclude_columns) are not the dump's to empty. A complete load over tables
// that exist empties them (TRUNCATE or DELETE) and loads the dump's rows, so it set each left-out column
// to NULL in every row: a live database's password hashes, wiped by a restore, exit 0. Such a table's
// rows are now copied aside before it is emptied, and the dump's rows go in joined to that copy by
// primary key: a row still there keeps its value, a row deleted since gets the column's NULL (refused
// where the column is NOT NULL). Everything else about the complete load stays as it was: tables
// emptied, then filled parents first, so unique keys, foreign keys and cascades behave as before.
import type { DataHeader, ExcludedColumn, SectionHeader } from './data-format';
import type { LoadPlan } from './dialect';

/** The tables whose left-out columns a complete load over existing tables must keep, by name, with those columns. */
export function keptColumnsOf(header: DataHeader, plan: LoadPlan): ReadonlyMap<string, readonly ExcludedColumn[]> {
  if (header.backup !== 'complete' || plan.createsTables) return new Map();
  return new Map(header.tables.filter((table) => table.excludedColumns.length > 0).map((table) => [table.table, table.excludedColumns]));
}

/**
 * Why this table's left-out columns cannot be kept (no primary key to match its rows by), or undefined.
 * Refused before any of its rows is loaded: the load is one transaction, so nothing changes.
 */
export function unkeptColumnsProblem(section: SectionHeader, excluded: readonly ExcludedColumn[]): string | undefined {
  if (section.primaryKey.length > 0 || excluded.length === 0) return undefined;
  return `table ${section.table} has columns left out of the dump (exclude_columns: ${excluded.map((column) => column.name).join(', ')}) `
    + 'and no primary key to match its rows by: loading over the table here would empty them in every row; nothing was loaded. '
    + 'Load it into a new database with --load-into, or give the table a primary key';
}
