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

/** Text cpsbackup reads as hex (HEX() of a name, a body): upper-case pairs. */
export const UPPER_HEX = /^(?:[0-9A-F]{2})*$/;

/** sql_mode as the server writes it: mode names, comma-separated (MYSQL40, MYSQL323: digits too). */
export const SQL_MODE_NAMES = /^[A-Z0-9_]*(?:,[A-Z0-9_]+)*$/;

/** The UTF-8 text of a HEX() answer. */
export const utf8FromHex = (hex: string): string => Buffer.from(hex, 'hex').toString('utf8');
