// Before a complete load empties existing MariaDB tables: foreign keys from tables the dump does not
// hold (exclude_tables, not in `tables =`, another database) whose ON DELETE would change them.
import { quoteLiteral } from './mariadb-sql';

/** The rules by which a DELETE of the dumped rows silently changes the referencing rows (RESTRICT fails loudly by itself). */
const SILENT_RULES = ['CASCADE', 'SET NULL', 'SET DEFAULT'];

/**
 * One line per foreign key from outside the dumped tables into one of them with a silent ON DELETE:
 * `<database>.<table> (<constraint>) → <referenced> ON DELETE <rule>`, tab-separated.
 */
export function outsideReferencesQuery(database: string, tables: readonly string[]): string {
  const names = tables.map(quoteLiteral).join(', ');
  return 'SELECT CONSTRAINT_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, REFERENCED_TABLE_NAME, DELETE_RULE FROM information_schema.REFERENTIAL_CONSTRAINTS '
    + `WHERE UNIQUE_CONSTRAINT_SCHEMA = ${quoteLiteral(database)} AND REFERENCED_TABLE_NAME IN (${names}) `
    + `AND DELETE_RULE IN (${SILENT_RULES.map(quoteLiteral).join(', ')}) `
    + `AND NOT (CONSTRAINT_SCHEMA = ${quoteLiteral(database)} AND TABLE_NAME IN (${names})) `
    + 'ORDER BY CONSTRAINT_SCHEMA, TABLE_NAME, CONSTRAINT_NAME;';
}

/** The query's answer as one description per foreign key. */
export function parseOutsideReferences(answer: string): string[] {
  return answer.split('\n').filter((line) => line !== '').map((line) => {
    const [schema, table, constraint, referenced, rule] = line.split('\t');
    return `${schema}.${table} (foreign key ${constraint} → ${referenced} ON DELETE ${rule})`;
  });
}
