// Columns a dump left out (exclude_columns) are not the dump's to empty. A complete dump loaded over
// tables that exist replaced every row (TRUNCATE or DELETE, then the dump's rows), and so set each left-out
// column to NULL in every row: a live database's password hashes, wiped by a restore, exit 0. Such a load
// is staged like a partial instead: rows gone from the dump deleted, the others upserted by primary key,
// so a left-out column keeps, in every row still there, the value it has in the database.
import type { DataHeader, SectionHeader } from './data-format';
import type { LoadPlan } from './dialect';

/** Whether the load stages every table and upserts (a partial, or a complete one over columns it lacks). */
export function isStagedLoad(header: DataHeader, plan: LoadPlan): boolean {
  if (header.backup !== 'complete') return true;
  return !plan.createsTables && header.tables.some((table) => table.excludedColumns.length > 0);
}

/**
 * Why a staged complete load cannot keep this table's left-out columns (no primary key to match its rows
 * by), or undefined. Refused before any row is loaded: the load is one transaction, so nothing changes.
 */
export function unkeptColumnsProblem(header: DataHeader, section: SectionHeader): string | undefined {
  if (header.backup !== 'complete' || section.primaryKey.length > 0) return undefined;
  const excluded = header.tables.find((table) => table.table === section.table)?.excludedColumns ?? [];
  if (excluded.length === 0) return undefined;
  return `table ${section.table} has columns left out of the dump (exclude_columns: ${excluded.map((column) => column.name).join(', ')}) `
    + 'and no primary key to match its rows by: loading over the table here would empty them in every row; nothing was loaded. '
    + 'Load it into a new database with --load-into, or give the table a primary key';
}
