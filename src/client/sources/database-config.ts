// Reads the keys of a `kind = postgresql` or `kind = mariadb` source block into a typed source.
// Only the syntax is checked here; tables and columns are checked against the catalog at dump time.
import { ConfigError } from '../../common/errors';
import type { ConfigLine } from '../../common/config/parse';
import { toInteger } from '../../common/config/values';

export type DatabaseKind = 'postgresql' | 'mariadb';

/** A `table.column` reference with the line it came from, so catalog checks can point at it. */
export interface ColumnReference {
  readonly table: string;
  readonly column: string;
  readonly line: number;
}

export interface NamedReference {
  readonly name: string;
  readonly line: number;
}

/** `deletes_from = TABLE: TOMBSTONE.COLUMN`: rows of TABLE whose primary key TOMBSTONE.COLUMN lists are deleted. */
export interface DeletesFrom {
  readonly table: string;
  readonly from: ColumnReference;
}

export interface DatabaseSettings {
  readonly database: string;
  /** Host name or address (TCP). PostgreSQL also takes a socket folder here. */
  readonly host?: string;
  readonly port?: number;
  /** PostgreSQL: the folder of the server's socket; MariaDB: the socket file. */
  readonly socket?: string;
  readonly user?: string;
  /** A file whose first line is the password; handed to the tools in a 0600 file, never in argv. */
  readonly passwordFile?: string;
  /** PostgreSQL only: the schema whose tables are dumped. */
  readonly schema: string;
  /**
   * PostgreSQL: `schema =` is set. Without it (and without `tables =`) the dump of public is refused where
   * the database has other user schemas (pg-schemas-left-out.ts): the operator pointed at a database.
   */
  readonly isSchemaChosen: boolean;
  /** Empty: every table. */
  readonly tables: readonly NamedReference[];
  readonly excludeTables: readonly NamedReference[];
  readonly excludeColumns: readonly ColumnReference[];
  /** Tables loaded first, in this order; the others follow in foreign-key order. */
  readonly order: readonly NamedReference[];
  readonly sinceFields: readonly ColumnReference[];
  readonly deletesFrom: readonly DeletesFrom[];
  /** Subtracted from a time mark: transactions open longer than this may be missed. */
  readonly overlapSeconds: number;
  /** Subtracted from an id mark: ids handed out to transactions still open at the dump. */
  readonly overlapIds: number;
  /** Restores and receives load into this database instead of `database`. */
  readonly loadInto?: string;
  /**
   * PostgreSQL only, `large_objects = ignore`: the operator knows large objects are not backed up, so
   * columns of type oid or lo are dumped as their numbers and the database's large objects do not fail
   * the plan (table-plan.ts). Default false: both fail it.
   */
  readonly ignoresLargeObjects: boolean;
  /** Folder of psql/pg_dump or mariadb/mariadb-dump; default: PATH. */
  readonly binDirectory?: string;
  /** storage.conf, for messages naming a line. */
  readonly file: string;
}

export const DEFAULT_OVERLAP_SECONDS = 300;
export const DEFAULT_OVERLAP_IDS = 1000;

export const DATABASE_KEYS = [
  'database', 'host', 'port', 'socket', 'user', 'password_file', 'schema', 'tables', 'exclude_tables', 'exclude_columns',
  'order', 'since_field', 'deletes_from', 'overlap_seconds', 'overlap_ids', 'load_into', 'bin_dir',
  'large_objects',
] as const;
export const DATABASE_REPEATABLE_KEYS = ['tables', 'exclude_tables', 'exclude_columns', 'since_field', 'deletes_from'];

/** A name a config line can hold: `table.column` and comma lists need '.' and ',' as separators. */
const BAD_NAME = /[.,:\0]|^\s|\s$/;

export function databaseSettingsOf(file: string, kind: DatabaseKind, header: ConfigLine, lines: readonly ConfigLine[]): DatabaseSettings {
  const last = (key: string): ConfigLine | undefined => lines.filter((entry) => entry.key === key).at(-1);
  const all = (key: string): ConfigLine[] => lines.filter((entry) => entry.key === key);
  const text = (key: string): string | undefined => {
    const entry = last(key);
    if (entry !== undefined && entry.value === '') throw new ConfigError(file, entry.line, `"${key}" must not be empty`);
    return entry?.value;
  };
  const database = text('database');
  if (database === undefined) throw new ConfigError(file, header.line, `source "${header.value}" needs "database ="`);
  const schemaLine = last('schema');
  if (schemaLine !== undefined && kind !== 'postgresql') {
    throw new ConfigError(file, schemaLine.line, '"schema" applies to PostgreSQL only (a MariaDB database is its own schema)');
  }
  const largeObjectsLine = last('large_objects');
  if (largeObjectsLine !== undefined && kind !== 'postgresql') {
    throw new ConfigError(file, largeObjectsLine.line, '"large_objects" applies to PostgreSQL only');
  }
  if (largeObjectsLine !== undefined && largeObjectsLine.value !== 'ignore') {
    throw new ConfigError(file, largeObjectsLine.line, `large_objects must be "ignore" (large objects are not backed up), got "${largeObjectsLine.value}"`);
  }
  const portLine = last('port');
  const passwordFile = text('password_file');
  if (passwordFile !== undefined && !passwordFile.startsWith('/')) {
    throw new ConfigError(file, (last('password_file') as ConfigLine).line, `password_file must be absolute, got "${passwordFile}"`);
  }
  const sinceFields = all('since_field').flatMap((entry) => commaList(entry).map((value) => columnReference(file, entry, value)));
  const seenSince = new Map<string, number>();
  for (const since of sinceFields) {
    const previous = seenSince.get(since.table);
    if (previous !== undefined) {
      throw new ConfigError(file, since.line, `since_field: table ${since.table} already has one (line ${previous}); one per table`);
    }
    seenSince.set(since.table, since.line);
  }
  const overlapSecondsLine = last('overlap_seconds');
  const overlapIdsLine = last('overlap_ids');
  return {
    database,
    host: text('host'),
    port: portLine === undefined ? undefined : toInteger(file, portLine, 1, 65535),
    socket: text('socket'),
    user: text('user'),
    passwordFile,
    schema: schemaLine === undefined ? 'public' : nonEmpty(file, schemaLine),
    isSchemaChosen: schemaLine !== undefined,
    tables: names(file, all('tables')),
    excludeTables: names(file, all('exclude_tables')),
    excludeColumns: all('exclude_columns').flatMap((entry) => commaList(entry).map((value) => columnReference(file, entry, value))),
    order: names(file, lines.filter((entry) => entry.key === 'order')),
    sinceFields,
    deletesFrom: all('deletes_from').map((entry) => deletesFromOf(file, entry)),
    overlapSeconds: overlapSecondsLine === undefined ? DEFAULT_OVERLAP_SECONDS : toInteger(file, overlapSecondsLine, 0, 30 * 24 * 3600),
    overlapIds: overlapIdsLine === undefined ? DEFAULT_OVERLAP_IDS : toInteger(file, overlapIdsLine, 0, 1_000_000_000),
    loadInto: text('load_into'),
    ignoresLargeObjects: largeObjectsLine !== undefined,
    binDirectory: text('bin_dir'),
    file,
  };
}

function nonEmpty(file: string, entry: ConfigLine): string {
  if (entry.value === '') throw new ConfigError(file, entry.line, `"${entry.key}" must not be empty`);
  return entry.value;
}

function commaList(entry: ConfigLine): string[] {
  return entry.value.split(',').map((part) => part.trim());
}

function names(file: string, entries: readonly ConfigLine[]): NamedReference[] {
  const seen = new Map<string, number>();
  return entries.flatMap((entry) => commaList(entry).map((name) => {
    if (name === '' || BAD_NAME.test(name)) {
      throw new ConfigError(file, entry.line, `${entry.key}: "${name}" is not a table name (comma-separated names; no ".", ":")`);
    }
    const previous = seen.get(name);
    if (previous !== undefined) throw new ConfigError(file, entry.line, `${entry.key}: table ${name} is listed twice (also line ${previous})`);
    seen.set(name, entry.line);
    return { name, line: entry.line };
  }));
}

function columnReference(file: string, entry: ConfigLine, value: string): ColumnReference {
  const dot = value.indexOf('.');
  const table = value.slice(0, dot).trim();
  const column = value.slice(dot + 1).trim();
  if (dot < 0 || table === '' || column === '' || BAD_NAME.test(table)) {
    throw new ConfigError(file, entry.line, `${entry.key}: expected table.column, got "${value}"`);
  }
  return { table, column, line: entry.line };
}

function deletesFromOf(file: string, entry: ConfigLine): DeletesFrom {
  const match = /^([^:]+):(.+)$/.exec(entry.value);
  const table = match?.[1].trim() ?? '';
  if (match === null || table === '' || BAD_NAME.test(table)) {
    throw new ConfigError(file, entry.line, `deletes_from: expected "TABLE: TOMBSTONE_TABLE.COLUMN" (or "TABLE: TABLE.SOFT_DELETE_COLUMN"), got "${entry.value}"`);
  }
  return { table, from: columnReference(file, entry, match[2].trim()) };
}
