// The header lines a dump writes, built from the table plans: the data file's first line and one
// line per table section (see data-format.ts for what the loader reads from them).
import type { DatabaseSource } from '../storage-config';
import {
  DATA_LINE, END_LINE, TABLE_LINE,
  type BackupKindName, type DataHeader, type SectionHeader,
} from './data-format';
import type { TablePlan } from './table-plan';
import type { DatabaseCatalog } from './catalog';

/** `partitions`: PostgreSQL, partitionsOfDump's map (partitions.ts), recorded as `partitioned`. */
export function dataHeaderOf(source: DatabaseSource, catalog: DatabaseCatalog, plans: readonly TablePlan[], backup: BackupKindName,
  partitions?: ReadonlyMap<string, readonly string[]>): DataHeader {
  return {
    kind: source.kind,
    source: source.name,
    database: source.database,
    ...(source.kind === 'postgresql' ? { schema: source.schema } : {}),
    backup,
    ...(catalog.charset === undefined ? {} : { charset: catalog.charset }),
    ...(catalog.collation === undefined ? {} : { collation: catalog.collation }),
    ...(source.kind === 'mariadb' && backup === 'complete' ? { hasTriggersFile: true } : {}),
    ...(source.kind === 'mariadb' && backup === 'complete' && source.tables.length === 0 ? { hasRoutinesFile: true } : {}),
    tables: plans.map((plan) => ({
      table: plan.table.name,
      excludedColumns: plan.excludedColumns.map((column) => ({
        name: column.name, isNullable: column.isNullable, ...(column.definition === undefined ? {} : { definition: column.definition }),
      })),
    })),
    ...(partitions === undefined ? {} : { partitioned: [...partitions].map(([table, children]) => ({ table, partitions: children })) }),
  };
}

export function sectionHeaderOf(source: DatabaseSource, plan: TablePlan): SectionHeader {
  const since = plan.sinceColumn !== undefined && plan.sinceMark !== undefined
    ? { column: plan.sinceColumn.name, mark: plan.sinceMark, overlap: plan.sinceColumn.valueClass === 'time' ? source.overlapSeconds : source.overlapIds }
    : undefined;
  return {
    table: plan.table.name,
    columns: plan.columns.map((column) => column.name),
    primaryKey: plan.table.primaryKey,
    rows: since === undefined ? 'all' : 'since',
    ...(since === undefined ? {} : { since }),
    ...(plan.tombstoneFor === undefined ? {} : { tombstoneFor: plan.tombstoneFor }),
    ...(plan.softDelete === undefined ? {} : { softDelete: plan.softDelete }),
  };
}

export const dataLine = (header: DataHeader): string => `${DATA_LINE}${JSON.stringify(header)}`;
export const tableLine = (section: SectionHeader): string => `${TABLE_LINE}${JSON.stringify(section)}`;
export const endLine = (tables: number): string => `${END_LINE}${JSON.stringify({ tables })}`;
