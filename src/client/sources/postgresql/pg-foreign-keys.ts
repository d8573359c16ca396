// Before a complete load deletes rows of existing PostgreSQL tables: foreign keys from tables the dump
// does not hold (another schema, exclude_tables, not in `tables =`) whose ON DELETE would change them.
import { quoteLiteral } from './pg-sql';

/** confdeltype: c = CASCADE, n = SET NULL, d = SET DEFAULT; RESTRICT and NO ACTION fail loudly by themselves. */
const SILENT_RULES = { c: 'CASCADE', n: 'SET NULL', d: 'SET DEFAULT' };

/**
 * One line per foreign key from outside the dumped tables (of `schema`) into one of them with a silent
 * ON DELETE: `<schema>.<table> (foreign key <constraint> → <referenced> ON DELETE <rule>)`.
 */
export function outsideReferencesQuery(schema: string, tables: readonly string[]): string {
  const names = tables.map(quoteLiteral).join(', ');
  const rule = `CASE k.confdeltype ${Object.entries(SILENT_RULES).map(([code, name]) => `WHEN '${code}' THEN '${name}'`).join(' ')} END`;
  return `SELECT format('%s.%s (foreign key %s → %s ON DELETE %s)', n.nspname, c.relname, k.conname, f.relname, ${rule}) `
    + 'FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace '
    + 'JOIN pg_class f ON f.oid = k.confrelid JOIN pg_namespace fn ON fn.oid = f.relnamespace '
    // conparentid = 0: a partitioned table's key once, not again for each partition (whose copy cannot be dropped).
    + `WHERE k.contype = 'f' AND k.conparentid = 0 AND k.confdeltype IN (${Object.keys(SILENT_RULES).map(quoteLiteral).join(', ')}) `
    // A key to a partitioned table is on the parent (conparentid = 0), whose leaves are what a load empties.
    + `AND (fn.nspname = ${quoteLiteral(schema)} AND f.relname IN (${names}) OR k.confrelid IN (SELECT a.relid FROM pg_class l `
    + `JOIN pg_namespace ln ON ln.oid = l.relnamespace CROSS JOIN LATERAL pg_partition_ancestors(l.oid) AS a(relid) `
    + `WHERE ln.nspname = ${quoteLiteral(schema)} AND l.relname IN (${names}))) `
    // Inside: a dumped table, or a partitioned one all of whose leaves are dumped.
    + `AND NOT (n.nspname = ${quoteLiteral(schema)} AND (c.relname IN (${names}) OR c.relkind = 'p' AND NOT EXISTS (SELECT 1 `
    + 'FROM pg_partition_tree(c.oid) AS t JOIN pg_class x ON x.oid = t.relid WHERE x.relkind <> \'p\' '
    + `AND (x.relnamespace <> c.relnamespace OR x.relname NOT IN (${names}))))) `
    + 'ORDER BY n.nspname, c.relname, k.conname;';
}
