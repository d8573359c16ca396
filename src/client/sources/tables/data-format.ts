// The layout of a database source's dump files. data.sql holds every table of one snapshot, one
// section per table in load order, each led by a `-- cpsbackup-table {json}` comment line that
// tells the loader what follows; the file ends with `-- cpsbackup-end` only if the dumper finished.
//
//   -- cpsbackup-data {"kind":"postgresql","source":"shop","database":"shop","backup":"complete","tables":[...]}
//   -- cpsbackup-table {"table":"customers","columns":["id","name"],"primaryKey":["id"],"rows":"all",...}
//   COPY "public"."customers" ("id", "name") FROM stdin;      PostgreSQL: COPY text rows, then \.
//   INSERT INTO `customers` (`id`,`name`) VALUES (1,'a');      MariaDB: one INSERT per row
//   -- cpsbackup-sequence {"name":"\"public\".\"customers_id_seq\"","lastValue":"42","isCalled":true}
//   -- cpsbackup-end {"tables":3}
//
// Both stay valid SQL for their own client (psql -f, mariadb <), so an operator can load a
// restored file by hand; the loader rewrites the statements (stage tables, upserts).
import type { DatabaseKind } from '../database-config';

export const SCHEMA_FILE_NAME = 'schema.sql';
export const DATA_FILE_NAME = 'data.sql';
/** MariaDB complete dumps: the triggers as JSON lines (mariadb-triggers.ts), created after the rows so none fires on a loaded row. */
export const TRIGGERS_FILE_NAME = 'triggers.jsonl';
/** MariaDB complete dumps of a whole database: stored procedures, functions and events as JSON lines (mariadb-routines.ts). */
export const ROUTINES_FILE_NAME = 'routines.jsonl';

export const DATA_LINE = '-- cpsbackup-data ';
export const TABLE_LINE = '-- cpsbackup-table ';
export const SEQUENCE_LINE = '-- cpsbackup-sequence ';
export const END_LINE = '-- cpsbackup-end ';

export type BackupKindName = 'complete' | 'partial';

export interface ExcludedColumn {
  readonly name: string;
  readonly isNullable: boolean;
  /** MariaDB: type, charset and collation, to re-declare the column NULL. */
  readonly definition?: string;
}

export interface TableSummary {
  readonly table: string;
  /** Columns left out by exclude_columns: a complete load lets them be NULL. */
  readonly excludedColumns: readonly ExcludedColumn[];
}

export interface DataHeader {
  readonly kind: DatabaseKind;
  readonly source: string;
  /** The database dumped; loads go to the loading side's own database (or load_into). */
  readonly database: string;
  /** PostgreSQL: the schema of every table. */
  readonly schema?: string;
  readonly backup: BackupKindName;
  /** MariaDB: the database's default character set and collation, for CREATE DATABASE on load. */
  readonly charset?: string;
  readonly collation?: string;
  /**
   * MariaDB complete dumps: the triggers are in triggers.jsonl (schema.sql has none), so the load needs it.
   * Absent in dumps made before: their schema.sql holds the triggers, which then fire on the loaded rows.
   */
  readonly hasTriggersFile?: boolean;
  /**
   * MariaDB complete dumps without `tables =`: the stored procedures, functions and events are in routines.jsonl
   * (schema.sql has none), so the load needs it. Absent in dumps made before (they held none) and with `tables =`.
   */
  readonly hasRoutinesFile?: boolean;
  /** Every section, in load order. */
  readonly tables: readonly TableSummary[];
  /**
   * PostgreSQL (absent from dumps made before it was recorded): the partitioned tables the dump depends on
   * and every one under them, each with its partitions one level down in the dump's snapshot, those the
   * configuration leaves out included. A load over existing tables detaches what left them since.
   */
  readonly partitioned?: readonly PartitionedTable[];
}

export interface PartitionedTable {
  readonly table: string;
  readonly partitions: readonly string[];
}

export interface SectionHeader {
  readonly table: string;
  readonly columns: readonly string[];
  readonly primaryKey: readonly string[];
  /** 'since': rows at or past the base backup's mark minus the overlap, upserted. 'all': every row
   *  (a partial load then mirrors the table: rows missing from the dump are deleted). */
  readonly rows: 'all' | 'since';
  readonly since?: { readonly column: string; readonly mark: string; readonly overlap: number };
  /** This table's `column` lists primary keys of rows deleted from `table` (deletes_from). */
  readonly tombstoneFor?: { readonly table: string; readonly column: string };
  /** Rows whose `column` is set are deleted from the loaded copy (deletes_from naming the table itself). */
  readonly softDelete?: SoftDelete;
}

/** Which rows count as deleted: a boolean that is true, a number that is not 0, or any value set. */
export interface SoftDelete {
  readonly column: string;
  readonly when: 'true' | 'nonzero' | 'set';
}

export interface SequenceValue {
  readonly name: string;
  readonly lastValue: string;
  readonly isCalled: boolean;
}

export interface DataEnd {
  readonly tables: number;
}
