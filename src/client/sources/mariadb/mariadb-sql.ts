// Quoting for MariaDB/MySQL text we generate. Every session here sets its sql_mode, so backslash
// escapes are on (NO_BACKSLASH_ESCAPES is never set) and literals escape both quote and backslash.

export function quoteIdentifier(name: string): string {
  return `\`${name.replaceAll('`', '``')}\``;
}

export function quoteLiteral(text: string): string {
  return `'${text.replace(/[\\'\0\n\r\x1a]/g, (character) => ESCAPES[character])}'`;
}

const ESCAPES: Readonly<Record<string, string>> = { '\\': '\\\\', "'": "\\'", '\0': '\\0', '\n': '\\n', '\r': '\\r', '\x1a': '\\Z' };

export function columnList(columns: readonly string[]): string {
  return columns.map(quoteIdentifier).join(',');
}

/** The start of every row line of a table in data.sql; the loader strips it to get the row's tuple. */
export function insertPrefix(table: string, columns: readonly string[]): string {
  return `INSERT INTO ${quoteIdentifier(table)} (${columnList(columns)}) VALUES `;
}

/** Session settings of every dump and load: UTC for TIMESTAMP, explicit ids (0 too) kept, no silent truncation on load. */
export const SESSION_SETTINGS = "SET SESSION time_zone = '+00:00';\n";
export const DUMP_SQL_MODE = "SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO';\n";
export const LOAD_SQL_MODE = "SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO,STRICT_ALL_TABLES';\n";
