// The unique keys other than the primary key of a load's target tables: a partial load's upsert
// (ON DUPLICATE KEY UPDATE) fires on any of them, so it first clears the rows that clash on one.
import type { UniqueKeyPart } from '../tables/dialect';
import { quoteLiteral } from './mariadb-sql';

/** One JSON line per key column, in key order: names may hold any character. */
export function uniqueKeysQuery(database: string, tables: readonly string[]): string {
  return "SELECT JSON_OBJECT('table', TABLE_NAME, 'key', INDEX_NAME, 'column', COLUMN_NAME, 'prefix', SUB_PART) "
    + `FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ${quoteLiteral(database)} AND TABLE_NAME IN (${tables.map(quoteLiteral).join(', ')}) `
    + "AND NON_UNIQUE = 0 AND INDEX_NAME <> 'PRIMARY' ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX;";
}

export function parseUniqueKeys(answer: string): Map<string, UniqueKeyPart[][]> {
  const byTable = new Map<string, Map<string, UniqueKeyPart[]>>();
  for (const line of answer.split('\n')) {
    if (line === '') continue;
    const row = JSON.parse(line) as { table: string; key: string; column: string; prefix: number | null };
    const keys = byTable.get(row.table) ?? new Map<string, UniqueKeyPart[]>();
    byTable.set(row.table, keys);
    const parts = keys.get(row.key) ?? [];
    keys.set(row.key, parts);
    parts.push(row.prefix === null ? { column: row.column } : { column: row.column, prefixLength: row.prefix });
  }
  return new Map([...byTable].map(([table, keys]) => [table, [...keys.values()]]));
}
