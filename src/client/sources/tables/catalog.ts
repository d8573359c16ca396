// What a database's catalog says about the tables a source may dump, in one shape for both
// PostgreSQL and MariaDB: columns and their kinds of value, primary keys, foreign-key parents.

/** How a column's values are written and compared; decides since_field checks and MariaDB's rendering. */
export type ValueClass = 'time' | 'integer' | 'decimal' | 'float' | 'double' | 'binary' | 'bit' | 'boolean' | 'text';

export interface ColumnInfo {
  readonly name: string;
  /** As the server spells it (format_type / COLUMN_TYPE), used in casts and messages. */
  readonly type: string;
  readonly valueClass: ValueClass;
  /** Computed by the server (GENERATED ... STORED / VIRTUAL): never dumped, never loaded. */
  readonly isGenerated: boolean;
  readonly isNullable: boolean;
  /** PostgreSQL: of type oid, or a domain or array of it (lo, oid[]): the way a row refers to large objects. */
  readonly isOidType?: boolean;
  /** MariaDB: the column's type with charset and collation, to re-declare it NULL after exclusion. */
  readonly definition?: string;
  /** MariaDB: the character set of a text column (utf8mb4, sjis, utf16, ...). */
  readonly charset?: string;
}

export interface TableInfo {
  readonly name: string;
  readonly columns: readonly ColumnInfo[];
  /** Empty when the table has none. */
  readonly primaryKey: readonly string[];
  /** Tables this one references by foreign key, itself excluded. */
  readonly parents: readonly string[];
  /** PostgreSQL: sequences owned by its columns (serial, identity) or read by their defaults, as quoted qualified names. */
  readonly sequences: readonly string[];
  /**
   * PostgreSQL: a partitioned table (relkind 'p'), which holds no rows: its leaf partitions do, and are
   * dumped in its place (partitions.ts). Sub-partitioned partitions are partitioned too.
   */
  readonly isPartitioned?: boolean;
  /** PostgreSQL: the partitioned tables this one is a partition of, nearest first (empty or absent: none). */
  readonly partitionOf?: readonly string[];
  /**
   * PostgreSQL: partitions or partitioned ancestors of this table in another schema, and foreign partitions
   * (their rows are on another server) anywhere in its tree, as quoted qualified names.
   */
  readonly partitionsElsewhere?: readonly string[];
  /** PostgreSQL: the columns of its own or its partitioned ancestors' partition keys (an expression's columns are not named). */
  readonly partitionKey?: readonly string[];
  /** PostgreSQL: row-level security applies to the dumping role, which would see only the rows a policy lets it. */
  readonly isRowFiltered?: boolean;
  /** PostgreSQL: the dumping role owns the table, so its row-level security applies only through FORCE. */
  readonly isOwnedByRole?: boolean;
  /** MariaDB: what it is when its content is not plain rows ('a sequence', 'system-versioned'): not dumped. */
  readonly notPlainRows?: string;
}

/** Large objects are counted up to one past this, not all: the plan only asks whether there are any. */
export const LARGE_OBJECTS_COUNTED = 1000;

/** PostgreSQL: a schema other than the dumped one that holds objects a load needs, with a few of them named. */
export interface SchemaLeftOut {
  readonly schema: string;
  /** pg_describe_object's words ("table app.orders"), tables first; a few, not all. */
  readonly objects: readonly string[];
}

export interface DatabaseCatalog {
  readonly tables: readonly TableInfo[];
  /** PostgreSQL: the schema's sequences no column owns (`DEFAULT nextval('x')` without OWNED BY), quoted. */
  readonly freeSequences?: readonly string[];
  /**
   * PostgreSQL: how many large objects the database holds (pg_largeobject_metadata), they are never
   * dumped; counted up to LARGE_OBJECTS_COUNTED + 1 only (more: "more than" that many).
   */
  readonly largeObjects?: number;
  /**
   * PostgreSQL, read only when asked (a source without `schema =` or `tables =`): the other user schemas
   * that hold objects (pg-schemas-left-out.ts).
   */
  readonly schemasLeftOut?: readonly SchemaLeftOut[];
  /** PostgreSQL: the role the catalog was read as (current_user), for messages. */
  readonly role?: string;
  /** MariaDB: the database's default character set and collation, for CREATE DATABASE on load. */
  readonly charset?: string;
  readonly collation?: string;
}
