// Loads a postgresql or mariadb source's restored schema.sql, data.sql (and MariaDB's triggers.jsonl, routines.jsonl) into its database (or
// load_into / --load-into), creating the database for a complete dump; one client, one script.
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { LoadFailedError } from '../../common/errors';
import { dialectOf } from './database-dialects';
import type { DatabaseSource } from './storage-config';
import { readDataEvents, readDataHeader } from './tables/data-reader';
import type { ExistingTable, FailureFactory, LoadPlan } from './tables/dialect';
import { runLoadScript } from './tables/run-load-script';

export interface DatabaseDumpFiles {
  readonly schema?: string;
  readonly data?: string;
  /** MariaDB complete dumps whose header says hasTriggersFile. */
  readonly triggers?: string;
  /** MariaDB complete dumps whose header says hasRoutinesFile. */
  readonly routines?: string;
}

/** What a load that succeeded did not apply: a file of the dump and why. */
export interface NotApplied {
  readonly path: string;
  readonly reason: string;
}

export interface DatabaseLoadOptions {
  /** Load into this database instead of the source's load_into or database. */
  readonly loadInto?: string;
  /** Where the credential files go while the client runs; default: beside data.sql. */
  readonly workDirectory?: string;
}

/** The database a load writes to; the source's own `database` is never touched when another is named. */
export function loadTarget(source: DatabaseSource, loadInto: string | undefined): string {
  return loadInto ?? source.loadInto ?? source.database;
}

/** What a load that succeeded has to tell: files it did not apply (NotApplied), warnings its script raised (load-warnings.ts). */
export interface DatabaseLoadOutcome {
  readonly notApplied: NotApplied[];
  /** For its user: a partition detached and kept as a table here, a view left unrefreshed. */
  readonly warnings: string[];
}

export async function loadDatabaseDump(source: DatabaseSource, files: DatabaseDumpFiles, options: DatabaseLoadOptions = {}): Promise<DatabaseLoadOutcome> {
  const fail: FailureFactory = (message, stderrTail = '') => new LoadFailedError(source.name, stderrTail === '' ? message : `${message}\n${stderrTail}`);
  if (files.data === undefined) throw fail('no data.sql was restored for this source (schema.sql alone loads nothing)');
  const header = await readDataHeader(source.name, files.data);
  if (header.kind !== source.kind) throw fail(`${files.data} is a ${header.kind} dump, but source ${source.name} is of kind ${source.kind}`);
  if (header.backup === 'complete' && files.schema === undefined) throw fail(`${files.data} is a complete dump: its schema.sql must be restored beside it`);
  // Without it, a dump whose schema.sql holds no triggers would load with exit 0 and leave every trigger out.
  if (header.hasTriggersFile === true && files.triggers === undefined) {
    throw fail(`${files.data} is a complete dump whose triggers are in triggers.jsonl: restore it beside data.sql`);
  }
  // An older dump's schema.sql creates its triggers itself: a triggers file beside it is not of this dump.
  if (header.hasTriggersFile !== true && files.triggers !== undefined) {
    throw fail(`${files.triggers} is beside a data.sql whose dump has no triggers file (${header.backup === 'complete'
      ? 'its schema.sql holds its triggers' : 'a partial dump'}): not of this dump; not loaded`);
  }
  // Likewise: without it, such a dump would load with exit 0 and leave every procedure, function and event out.
  if (header.hasRoutinesFile === true && files.routines === undefined) {
    throw fail(`${files.data} is a complete dump whose procedures, functions and events are in routines.jsonl: restore it beside data.sql`);
  }
  if (header.hasRoutinesFile !== true && files.routines !== undefined) {
    throw fail(`${files.routines} is beside a data.sql whose dump has no routines file: not of this dump; not loaded`);
  }
  // The load script writes to the dump's schema, the checks for existing tables look in this source's: one
  // schema for both, or a dump naming another would empty that schema's tables of the same names.
  if (source.kind === 'postgresql' && (header.schema ?? 'public') !== source.schema) {
    throw fail(`${files.data} was dumped from schema ${JSON.stringify(header.schema ?? 'public')}, but source ${source.name} loads `
      + `schema ${JSON.stringify(source.schema)}; not loaded (set schema = in storage.conf to load it)`);
  }
  const database = loadTarget(source, options.loadInto);
  const connection = await dialectOf(source.kind).connect(source, options.workDirectory ?? dirname(files.data), fail);
  try {
    // Before anything is created: a client that cannot shut off its commands refuses the load (command-guard.ts).
    const loader = await connection.loader(database);
    const tables = header.tables.map((table) => table.table);
    let found: ExistingTable[] = [];
    if (await connection.databaseExists(database)) {
      found = await connection.existingTables(database, tables, header);
    } else if (header.backup === 'complete') {
      await connection.createDatabase(database, header);
    }
    const existing = found.map((table) => table.name);
    const missing = tables.filter((table) => !existing.includes(table));
    if (header.backup === 'partial' && missing.length > 0) {
      throw fail(`${database} has no table ${missing.join(', ')}: a partial dump applies on top of its complete backup's load`);
    }
    if (header.backup === 'complete' && existing.length > 0 && missing.length > 0) {
      throw fail(`${database} has tables ${existing.join(', ')} but not ${missing.join(', ')}: a complete load either creates every `
        + 'table (none exists) or replaces the rows of every one; create the missing ones, or drop the others to take the dumped definitions');
    }
    if (header.backup === 'complete' && existing.length > 0) await connection.checkOutsideReferences(database, tables, header);
    const events = readDataEvents(source.name, files.data, source.kind);
    const plan: LoadPlan = {
      schemaPath: files.schema, triggersPath: files.triggers, routinesPath: files.routines, createsTables: header.backup === 'complete' && existing.length === 0,
      partitionedTables: new Set(found.filter((table) => table.isPartitioned === true).map((table) => table.name)),
      uniqueKeys: new Map(found.map((table) => [table.name, table.uniqueKeys ?? []])),
    };
    const warnings = await runLoadScript(source.name, loader, connection.loadScript(header, events, plan), source.timeoutSeconds, database,
      (step) => connection.stepFailureNote?.(step));
    // Over existing tables the target's triggers stay as they are: the dump's are not created, and the load says so.
    const notApplied: NotApplied[] = files.triggers === undefined || plan.createsTables ? [] : [{
      path: files.triggers,
      reason: `not applied: the tables existed in ${database}, which keeps its own triggers (they fired on the loaded rows); `
        + 'the dump\'s triggers were not created. To get them, load into a database without those tables',
    }];
    // So do its procedures, functions and events (said only when the dump holds some).
    if (files.routines !== undefined && !plan.createsTables && (await stat(files.routines)).size > 0) {
      notApplied.push({
        path: files.routines,
        reason: `not applied: the tables existed in ${database}, which keeps its own stored procedures, functions and events; `
          + 'the dump\'s were not created. To get them, load into a database without those tables',
      });
    }
    return { notApplied, warnings: [...warnings, ...await connection.loadWarnings?.(database, plan) ?? []] };
  } finally {
    await connection.remove();
  }
}
