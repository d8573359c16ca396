// The header lines of a restored data.sql are another client's words (a receiver loads what the
// sender wrote) and reach SQL text: every field is checked for its type and, where it is spliced
// rather than quoted, its exact spelling, before anything is loaded.
/** MariaDB charset and collation names as the server spells them: spliced unquoted into CREATE DATABASE. */
export const CHARSET_NAME = /^[A-Za-z0-9_]+$/;

const WORD = "[A-Za-z_][A-Za-z0-9_]*";
/** A quoted value as COLUMN_TYPE writes it in enum('a','it''s'): backslash escapes on (the load script's sql_mode). */
const STRING = "'(?:[^'\\\\]|''|\\\\[\\s\\S])*'";
const ARGUMENT = `(?:\\d+|${STRING})`;
/**
 * An excluded MariaDB column's definition (`int(11) unsigned`, `enum('a','b')`, `varchar(9) CHARACTER SET
 * utf8mb4 COLLATE utf8mb4_bin`), spliced into ALTER TABLE ... MODIFY: a type, its arguments, then words
 * only. No top-level comma, semicolon, comment or quote, so it cannot add a clause or a statement.
 */
export const COLUMN_DEFINITION = new RegExp(`^${WORD}(?: ?\\(${ARGUMENT}(?:, ?${ARGUMENT})*\\))?(?: ${WORD})*$`);

/** What is wrong with a data.sql first line, or undefined when every field is as a dump writes it. */
export function dataHeaderProblem(header: unknown): string | undefined {
  if (!isRecord(header)) return 'the header is not an object';
  if (header.kind !== 'postgresql' && header.kind !== 'mariadb') return 'kind is neither postgresql nor mariadb';
  if (header.backup !== 'complete' && header.backup !== 'partial') return 'backup is neither complete nor partial';
  for (const key of ['source', 'database'] as const) if (!isName(header[key])) return `${key} is not a name`;
  if (header.schema !== undefined && !isName(header.schema)) return 'schema is not a name';
  for (const key of ['charset', 'collation'] as const) {
    const value = header[key];
    if (value !== undefined && !(typeof value === 'string' && CHARSET_NAME.test(value))) {
      return `${key} ${JSON.stringify(value)} is not a character set name (letters, digits, _)`;
    }
  }
  if (header.collation !== undefined && header.charset === undefined) return 'a collation without a charset';
  if (header.hasTriggersFile !== undefined && !(header.hasTriggersFile === true && header.kind === 'mariadb' && header.backup === 'complete')) {
    return 'hasTriggersFile is not true on a complete mariadb dump';
  }
  if (header.hasRoutinesFile !== undefined && !(header.hasRoutinesFile === true && header.kind === 'mariadb' && header.backup === 'complete')) {
    return 'hasRoutinesFile is not true on a complete mariadb dump';
  }
  if (!Array.isArray(header.tables)) return 'tables is not a list';
  for (const table of header.tables as unknown[]) {
    if (!isRecord(table) || !isName(table.table) || !Array.isArray(table.excludedColumns)) return 'a table entry is not {table, excludedColumns}';
    for (const column of table.excludedColumns as unknown[]) {
      if (!isRecord(column) || !isName(column.name) || typeof column.isNullable !== 'boolean') {
        return `table ${String(table.table)}: an excluded column is not {name, isNullable}`;
      }
      if (column.definition !== undefined && !(typeof column.definition === 'string' && COLUMN_DEFINITION.test(column.definition))) {
        return `table ${table.table}, column ${column.name}: definition ${JSON.stringify(column.definition)} is not a column type`;
      }
    }
  }
  if (header.partitioned !== undefined) {
    if (!Array.isArray(header.partitioned)) return 'partitioned is not a list';
    for (const entry of header.partitioned as unknown[]) {
      if (!isRecord(entry) || !isName(entry.table) || !isNameList(entry.partitions)) return 'a partitioned entry is not {table, partitions}';
    }
  }
  return undefined;
}

/** What is wrong with a `-- cpsbackup-table` line, or undefined. */
export function sectionHeaderProblem(section: unknown): string | undefined {
  if (!isRecord(section) || !isName(section.table)) return 'the table header has no table name';
  if (!isNameList(section.columns)) return 'columns is not a list of names';
  if (!isNameList(section.primaryKey)) return 'primaryKey is not a list of names';
  if (section.rows !== 'all' && section.rows !== 'since') return 'rows is neither all nor since';
  const since = section.since;
  if (since !== undefined && !(isRecord(since) && isName(since.column) && typeof since.mark === 'string' && Number.isInteger(since.overlap))) {
    return 'since is not {column, mark, overlap}';
  }
  const tombstone = section.tombstoneFor;
  if (tombstone !== undefined && !(isRecord(tombstone) && isName(tombstone.table) && isName(tombstone.column))) {
    return 'tombstoneFor is not {table, column}';
  }
  const softDelete = section.softDelete;
  if (softDelete !== undefined && !(isRecord(softDelete) && isName(softDelete.column)
    && (softDelete.when === 'true' || softDelete.when === 'nonzero' || softDelete.when === 'set'))) {
    return 'softDelete is not {column, when: true | nonzero | set}';
  }
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Any non-empty text without NUL: names are always quoted (identifiers) where they reach SQL. */
function isName(value: unknown): value is string {
  return typeof value === 'string' && value !== '' && !value.includes('\0');
}

function isNameList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every(isName);
}
