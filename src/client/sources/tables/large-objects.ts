// PostgreSQL large objects live outside every table (pg_largeobject); a row holds only an object's
// oid, and a postgresql source dumps rows: refuses a plan that would keep the numbers and lose the contents.
import type { DatabaseSource } from '../storage-config';
import { LARGE_OBJECTS_COUNTED, type DatabaseCatalog } from './catalog';

/** How many columns of type oid or lo the refusal names before saying how many more there are. */
const HINTS_SHOWN = 10;

/**
 * Unless `large_objects = ignore`: a database that holds large objects fails, whatever the plan dumps.
 * Which rows need them cannot be told from the catalog (an application may keep an oid in a text or
 * bigint column), so excluding an oid column, or a table with one, says nothing about the others; a
 * schema's oid and lo columns are only named as hints. A database without large objects passes,
 * oid columns and all (an audit table's relid loses nothing); the first backup after one is made fails.
 */
export function refuseLargeObjects(source: DatabaseSource, catalog: DatabaseCatalog, fail: (line: number, message: string) => never): void {
  const count = catalog.largeObjects ?? 0;
  if (source.ignoresLargeObjects || count === 0) return;
  const columns = catalog.tables.flatMap((table) => table.columns
    .filter((column) => column.isOidType)
    .map((column) => `${table.name}.${column.name} (${column.type})`));
  const shown = columns.slice(0, HINTS_SHOWN).join(', ') + (columns.length > HINTS_SHOWN ? ` and ${columns.length - HINTS_SHOWN} more` : '');
  const hint = columns.length === 0 ? `no column of schema ${source.schema} is of type oid or lo (an application may keep their oids in any column)`
    : `columns of schema ${source.schema} that may refer to them: ${shown}`;
  const amount = count > LARGE_OBJECTS_COUNTED ? `more than ${LARGE_OBJECTS_COUNTED} large objects` : `${count} large object${count === 1 ? '' : 's'}`;
  fail(source.line, `database ${source.database} holds ${amount}, which kind = postgresql does not dump: a restore `
    + `would lose them (${hint}); back the database up with a command source (pg_dump -Fc holds them), or set large_objects = ignore `
    + 'if no table of this source needs them');
}
