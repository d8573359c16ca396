// What the shared dump and load code needs from PostgreSQL and MariaDB, by role: read the catalog
// and marks, plan the dumpers, create the target database, build the loader and its script.
import type { BackupError } from '../../../common/errors';
import type { DatabaseSource } from '../storage-config';
import type { DatabaseCatalog } from './catalog';
import type { DataEvent } from './data-reader';
import type { BackupKindName, DataHeader } from './data-format';
import type { TablePlan } from './table-plan';
import type { ToolCommand } from './tool-command';

/** Builds the error of the current side: DumpFailedError while dumping, LoadFailedError while loading. */
export type FailureFactory = (message: string, stderrTail?: string) => BackupError;

/** How a load treats the target: create the tables from schema.sql, or keep them and replace or update rows. */
export interface LoadPlan {
  /** Complete dumps: the dumped schema, applied only when none of the dumped tables exist. */
  readonly schemaPath?: string;
  /**
   * MariaDB complete dumps with DataHeader.hasTriggersFile: their triggers.jsonl, whose triggers are created after
   * the rows' commit when the load creates the tables; over existing tables the target's own triggers stay.
   */
  readonly triggersPath?: string;
  /**
   * MariaDB complete dumps with DataHeader.hasRoutinesFile: their routines.jsonl; when the load creates the tables,
   * its procedures and functions are created before schema.sql (a view may call a function), its events after the
   * rows' commit. Over existing tables the target's own routines and events stay and none is created.
   */
  readonly routinesPath?: string;
  readonly createsTables: boolean;
  /**
   * PostgreSQL: the dumped tables that are partitioned in the target (ordinary where dumped). Their rows
   * live in their partitions, so they are emptied and deleted from without ONLY.
   */
  readonly partitionedTables?: ReadonlySet<string>;
  /** MariaDB: each existing table's unique keys but the primary key (ExistingTable.uniqueKeys). */
  readonly uniqueKeys?: ReadonlyMap<string, readonly (readonly UniqueKeyPart[])[]>;
}

/** A dumped table the target database already holds. */
export interface ExistingTable {
  readonly name: string;
  /** PostgreSQL: partitioned in the target. */
  readonly isPartitioned?: boolean;
  /** MariaDB: the target's unique keys other than the primary key, each as its columns (a prefix length where it has one). */
  readonly uniqueKeys?: readonly (readonly UniqueKeyPart[])[];
}

export interface UniqueKeyPart {
  readonly column: string;
  /** An index on the column's first characters (bytes for binary) only. */
  readonly prefixLength?: number;
}

/** One source's connection settings made usable by its tools; remove() deletes the credential files. */
export interface DialectConnection {
  readCatalog(): Promise<DatabaseCatalog>;
  /** Largest since_field value per table (tables with one), read before the dump's snapshot is taken. */
  readMarks(plans: readonly TablePlan[]): Promise<Map<string, string>>;
  /**
   * Writes schema.sql to stdout (complete backups): with `tables =` those tables' definitions, else
   * every definition of the schema / database (types, functions, views; excluded tables, empty), so
   * an empty database gets all the tables need. Never a DROP: a load must not destroy what it did not dump.
   */
  schemaDump(plans: readonly TablePlan[]): ToolCommand;
  /**
   * MariaDB: writes triggers.jsonl to stdout (complete backups), the triggers of the dumped tables as data,
   * which schemaDump leaves out, so a load creates them after the rows. Absent where the schema's triggers are
   * kept off during a load otherwise (PostgreSQL: post-data).
   */
  triggersDump?(plans: readonly TablePlan[]): Promise<ToolCommand>;
  /**
   * MariaDB: writes routines.jsonl to stdout (complete backups of a whole database: routines and events belong to
   * no table, so a backup of `tables =` has none): its stored procedures, functions and events as data. Undefined
   * where there is no such file (`tables =`).
   */
  routinesDump?(plans: readonly TablePlan[]): Promise<ToolCommand | undefined>;
  /** Writes data.sql to stdout: every table in one snapshot, in load order. */
  dataDump(catalog: DatabaseCatalog, plans: readonly TablePlan[], backup: BackupKindName): ToolCommand;
  databaseExists(database: string): Promise<boolean>;
  /** Which of `tables` the target database (and schema) holds. */
  existingTables(database: string, tables: readonly string[], header: DataHeader): Promise<ExistingTable[]>;
  /**
   * Before a complete load replaces the rows of existing `tables`: refuses (naming them) foreign keys from
   * tables outside them whose ON DELETE would silently change rows no backup holds (outside-references.ts).
   */
  checkOutsideReferences(database: string, tables: readonly string[], header: DataHeader): Promise<void>;
  createDatabase(database: string, header: DataHeader): Promise<void>;
  /**
   * The client that reads the load script on stdin, connected to `database`, echoing step markers, with
   * its client commands shut off (command-guard.ts); throws when this client cannot shut them off.
   */
  loader(database: string): Promise<ToolCommand>;
  /** The load script: for a complete dump the schema or emptied tables, then rows; for a partial one stage, delete, upsert. */
  loadScript(header: DataHeader, events: AsyncIterable<DataEvent>, plan: LoadPlan): AsyncGenerator<string | Buffer>;
  /** What a load that failed in this step (a STEP_MARKER text) leaves in the database and what to do, when that is not "nothing". */
  stepFailureNote?(step: string): string | undefined;
  /** What a load that succeeded with `plan` has to tell besides its script's warnings (MariaDB: the events it created disabled). */
  loadWarnings?(database: string, plan: LoadPlan): Promise<string[]>;
  remove(): Promise<void>;
}

export interface DatabaseDialect {
  /** Checks the tools are installed and writes the credential files under baseDirectory. */
  connect(source: DatabaseSource, baseDirectory: string, fail: FailureFactory): Promise<DialectConnection>;
}

/** Printed by the loader before each step, so a failure names the table it was loading. */
export const STEP_MARKER = 'cpsbackup-step ';
