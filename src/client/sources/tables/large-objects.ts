// PostgreSQL large objects live outside every table (pg_largeobject); a row holds only an object's
// oid, and a postgresql source dumps rows: refuses a plan that would keep the numbers and lose the contents.
import type { DatabaseSource } from '../storage-config';
import type { DatabaseCatalog, TableInfo } from './catalog';

export interface LargeObjectCheck {
  readonly source: DatabaseSource;
  readonly catalog: DatabaseCatalog;
  /** The tables the plan dumps. */
  readonly tables: readonly TableInfo[];
  /** exclude_columns, by table. */
  readonly excluded: ReadonlyMap<string, ReadonlySet<string>>;
  readonly lineOf: (table: TableInfo) => number;
  readonly fail: (line: number, message: string) => never;
}

/**
 * Unless `large_objects = ignore`: a dumped column of type oid or lo fails, named; so do large objects in
 * a database where no column of the schema (dumped or excluded) is of such a type, since nothing then
 * says which rows stand for them (an application may keep their oids in a bigint) and a restore into
 * an empty database would lose every one. A column excluded, or a table left out, says the operator
 * chose to leave its objects out.
 */
export function refuseLargeObjects(check: LargeObjectCheck): void {
  const { source, catalog, excluded, fail } = check;
  if (source.ignoresLargeObjects) return;
  const why = 'large objects are not dumped, so a restore would hold their numbers without their contents';
  for (const table of check.tables) {
    for (const column of table.columns.filter((candidate) => candidate.isOidType && !candidate.isGenerated)) {
      if (excluded.get(table.name)?.has(column.name)) continue;
      fail(check.lineOf(table), `column ${table.name}.${column.name} is of type ${column.type}, which refers to large objects: ${why}; `
        + `add ${table.name}.${column.name} to exclude_columns or ${table.name} to exclude_tables, set large_objects = ignore `
        + 'if losing them is intended, or back the database up with a command source (pg_dump -Fc)');
    }
  }
  const count = catalog.largeObjects ?? 0;
  if (count > 0 && !catalog.tables.some((table) => table.columns.some((column) => column.isOidType))) {
    fail(source.line, `database ${source.database} holds ${count} large object${count === 1 ? '' : 's'}, which kind = postgresql does not `
      + `dump, and no column of schema ${source.schema} is of type oid or lo to say which rows refer to them: a restore would lose them; `
      + 'back the database up with a command source (pg_dump -Fc holds them), or set large_objects = ignore if no table of this source needs them');
  }
}
