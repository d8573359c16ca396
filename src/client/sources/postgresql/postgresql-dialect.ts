// PostgreSQL for the shared dump and load code: psql reads the catalog and marks and writes
// data.sql (COPY in one snapshot), pg_dump --schema-only writes schema.sql, psql loads.
import type { DatabaseSource } from '../storage-config';
import type { DatabaseDialect, DialectConnection, ExistingTable, FailureFactory } from '../tables/dialect';
import type { TablePlan } from '../tables/table-plan';
import { runQuery, type ToolCommand } from '../tables/tool-command';
import { toolPrints } from '../tables/command-guard';
import { catalogQuery, marksQuery, parseCatalog, parseMarks } from './pg-catalog';
import { pgEnvironment } from './pg-connection';
import { schemasLeftOutRefusal } from './pg-schemas-left-out';
import { pgDataDumpScript } from './pg-dump-script';
import { loadSchemaOf, pgLoadScript } from './pg-load-script';
import { loadRowSecurityRefusal, type RowFilteredTable } from './pg-row-security';
import { qualifiedName, quoteIdentifier, quoteLiteral } from './pg-sql';
import { dataHeaderOf } from '../tables/data-headers';
import { outsideReferencesRefusal } from '../tables/outside-references';
import { outsideReferencesQuery } from './pg-foreign-keys';
import { partitionsOfDump } from '../tables/partitions';
import type { DataHeader } from '../tables/data-format';
import type { DatabaseCatalog, TableInfo } from '../tables/catalog';

/**
 * What --schema-only writes, and the REFRESH MATERIALIZED VIEW of each materialized view populated now (a
 * post-data entry that --schema-only leaves out, so a loaded view stayed empty); data is not a section here.
 */
const SCHEMA_SECTIONS = ['--section=pre-data', '--section=post-data'];

/** The tables storage.conf chooses by name (`tables =`), or else every table but those `exclude_tables` names. */
function chosenTables(source: DatabaseSource, catalog: DatabaseCatalog): TableInfo[] {
  const isNamed = (table: TableInfo, references: readonly { readonly name: string }[]): boolean =>
    references.some((reference) => reference.name === table.name);
  return catalog.tables.filter((table) => (source.tables.length > 0 ? isNamed(table, source.tables) : !isNamed(table, source.excludeTables)));
}

/** The database psql connects to for CREATE DATABASE; every cluster has it. */
const MAINTENANCE_DATABASE = 'postgres';
const QUERY_FLAGS = ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1'];

export const postgresqlDialect: DatabaseDialect = {
  async connect(source: DatabaseSource, baseDirectory: string, fail: FailureFactory): Promise<DialectConnection> {
    const environment = await pgEnvironment(source, baseDirectory, fail);
    const { psql, pgDump } = environment.tools;
    const query = (database: string, sql: string, what: string): Promise<string> =>
      runQuery({ file: psql, args: [...QUERY_FLAGS, '-f', '-'], env: environment.env(database), input: sql }, source.timeoutSeconds, what, fail);
    return {
      async readCatalog() {
        // Without `schema =` or `tables =` the operator pointed at the database, not at schema public.
        const asksSchemasLeftOut = !source.isSchemaChosen && source.tables.length === 0;
        const catalog = parseCatalog(await query(source.database, catalogQuery(source.schema, asksSchemasLeftOut), `reading the tables of ${source.database}`));
        if (catalog === undefined) throw fail(`${source.file}:${source.line}: database ${source.database} has no schema ${source.schema}`);
        const refusal = schemasLeftOutRefusal(`${source.file}:${source.line}`, source.database, source.schema, catalog.schemasLeftOut ?? []);
        if (refusal !== undefined) throw fail(refusal);
        return catalog;
      },
      async readMarks(plans: readonly TablePlan[]) {
        const sql = marksQuery(source.schema, plans);
        return sql === undefined ? new Map() : parseMarks(await query(source.database, sql, 'reading the since_field marks'));
      },
      schemaDump(plans: readonly TablePlan[]): ToolCommand {
        // Exact names in pg_dump's pattern syntax; --strict-names fails if one vanished since the catalog was read.
        // -t takes a table's owned sequences along, not one its default reads without owning it: named too.
        // A leaf partition needs its partitioned ancestors, which its ATTACH PARTITION names (pg_dump -t leaf
        // alone writes the ATTACH, not the parent); they hold no rows, so they are no plan of their own.
        const sequences = [...new Set(plans.flatMap((plan) => plan.table.sequences))];
        const tables = [...new Set(plans.flatMap((plan) => [plan.table.name, ...plan.table.partitionOf ?? []]))];
        const patterns = source.tables.length === 0 ? ['-n', quoteIdentifier(source.schema)]
          : [...tables.flatMap((table) => ['-t', qualifiedName(source.schema, table)]), ...sequences.flatMap((sequence) => ['-t', sequence])];
        return {
          file: pgDump,
          args: [...SCHEMA_SECTIONS, '--no-owner', '--no-privileges', '--strict-names', ...patterns],
          env: environment.env(source.database),
        };
      },
      dataDump(catalog, plans, backup) {
        const partitions = partitionsOfDump(plans.map((plan) => plan.table), chosenTables(source, catalog), catalog.tables);
        return {
          file: psql, args: [...QUERY_FLAGS, '-f', '-'], env: environment.env(source.database),
          // Without `tables =` schema.sql creates every sequence of the schema, so each gets its value back;
          // with it, only those the chosen tables own or read (the others are not in schema.sql either).
          input: pgDataDumpScript(source, plans, dataHeaderOf(source, catalog, plans, backup, partitions), source.tables.length === 0 ? catalog.freeSequences : [],
            partitions),
        };
      },
      async databaseExists(database: string) {
        const answer = await query(MAINTENANCE_DATABASE, `SELECT 1 FROM pg_database WHERE datname = ${quoteLiteral(database)};`,
          `looking for database ${database}`);
        return answer.trim() === '1';
      },
      async existingTables(database: string, tables: readonly string[], header: DataHeader) {
        // Where the load writes (pg-load-script.ts): the dump's own schema, which schema.sql names too,
        // not this node's storage.conf, which may say another since (or on a receiver).
        const names = tables.map(quoteLiteral).join(', ');
        const answer = await query(database, `SELECT json_build_object('name', c.relname, 'isPartitioned', c.relkind = 'p', `
          + `'isRowFiltered', row_security_active(c.oid), 'isOwnedByRole', pg_has_role(c.relowner, 'USAGE'), 'role', current_user) `
          + 'FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace '
          + `WHERE n.nspname = ${quoteLiteral(loadSchemaOf(header))} AND c.relkind IN ('r', 'p') AND c.relname IN (${names});`, `looking for the tables in ${database}`);
        // isPartitioned: the load empties and deletes from such a table without ONLY (pg-load-script.ts).
        const found = answer.split('\n').filter((line) => line !== '')
          .map((line) => JSON.parse(line) as ExistingTable & RowFilteredTable & { isRowFiltered: boolean; role: string });
        // Refused before anything runs: the load's statements would fail on such a table with PostgreSQL's bare error.
        const filtered = found.filter((table) => table.isRowFiltered);
        if (filtered.length > 0) throw fail(loadRowSecurityRefusal(database, filtered[0].role, filtered));
        return found;
      },
      // TRUNCATE without CASCADE fails on any foreign key from another table by itself; named here first, so
      // the refusal says which keys and what to do rather than PostgreSQL's bare error.
      async checkOutsideReferences(database: string, tables: readonly string[], header: DataHeader) {
        const answer = await query(database, outsideReferencesQuery(loadSchemaOf(header), tables), `looking for foreign keys into ${database}`);
        const references = answer.split('\n').filter((line) => line !== '');
        if (references.length > 0) throw fail(outsideReferencesRefusal(database, references));
      },
      async createDatabase(database: string) {
        // Outside the load's transaction: CREATE DATABASE cannot run inside one.
        await query(MAINTENANCE_DATABASE, `CREATE DATABASE ${quoteIdentifier(database)};`, `creating database ${database}`);
      },
      async loader(database: string) {
        // The load script enters \restrict (pg-load-script.ts): a psql without it would take that line
        // for an unknown command, and a dump's own backslash commands for orders.
        if (!await toolPrints(psql, ['-X', '--help=commands'], '\\restrict')) {
          throw fail(`${psql} cannot shut off backslash commands (\\restrict, in PostgreSQL 13.22, 14.19, 15.14, 16.10, 17.6 and `
            + 'later): a restored dump could run shell commands through it (\\!); not loaded. Upgrade postgresql-client');
        }
        return { file: psql, args: ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', '-'], env: environment.loadEnv(database) };
      },
      loadScript: pgLoadScript,
      remove: () => environment.remove(),
    };
  },
};
