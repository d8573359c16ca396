// MariaDB (and MySQL) for the shared dump and load code: the mariadb client reads the catalog, marks,
// triggers (triggers.jsonl, mariadb-triggers.ts), routines and events (routines.jsonl, mariadb-routines.ts)
// and writes data.sql (one consistent snapshot), mariadb-dump writes schema.sql (no triggers, routines or
// events), the mariadb client loads.
import { join } from 'node:path';
import type { DatabaseSource } from '../storage-config';
import { dataHeaderOf } from '../tables/data-headers';
import type { DatabaseDialect, DialectConnection, FailureFactory } from '../tables/dialect';
import type { TablePlan } from '../tables/table-plan';
import { runQuery, type ToolCommand } from '../tables/tool-command';
import { toolPrints } from '../tables/command-guard';
import { catalogQuery, marksQuery, parseCatalog, parseMarks } from './mariadb-catalog';
import { mariadbEnvironment } from './mariadb-connection';
import {
  GRANTS_QUERY, parseGrants, readsEveryTable, tablesWithout, unreadableTablesRefusal, unseenRoutinesRefusal, unseenTriggersRefusal,
} from './mariadb-grants';
import { mariadbDataDumpScript } from './mariadb-dump-script';
import { disabledEventsWarnings, mariadbLoadScript, loadStepFailureNote } from './mariadb-load-script';
import { SERVER_VERSION_QUERY, serverVersionProblem } from './mariadb-server-version';
import { asciiCharsetsQuery, eventsQuery, nonAsciiCharsets, parseEvents, parseProcedures, proceduresQuery, routinesFileOf } from './mariadb-routines';
import { parseTriggers, showCreateTriggersQuery, triggersFileOf, triggersQuery, withShownBodies } from './mariadb-triggers';
import { DUMP_SQL_MODE, quoteIdentifier, quoteLiteral } from './mariadb-sql';
import { CHARSET_NAME } from '../tables/data-header-check';
import { outsideReferencesQuery, parseOutsideReferences } from './mariadb-foreign-keys';
import { parseUniqueKeys, uniqueKeysQuery } from './mariadb-unique-keys';
import { outsideReferencesRefusal } from '../tables/outside-references';

/** --raw: values exactly as the server rendered them; --quick: rows streamed, not held in memory. */
const QUERY_FLAGS = ['--batch', '--skip-column-names', '--raw', '--quick', '--default-character-set=utf8mb4'];

/**
 * The client's own limit (16 MiB by default) at the protocol's largest: the server's max_allowed_packet
 * alone decides how large a row may be, in the dump and in the load's statements.
 */
const MAX_PACKET_FLAG = '--max-allowed-packet=1073741824';

export const mariadbDialect: DatabaseDialect = {
  async connect(source: DatabaseSource, baseDirectory: string, fail: FailureFactory): Promise<DialectConnection> {
    const environment = await mariadbEnvironment(source, baseDirectory, fail);
    const client = (database: string | undefined, flags: readonly string[]): ToolCommand => ({
      file: environment.client,
      args: [...environment.optionArgs, ...flags, ...(database === undefined ? [] : [`--database=${database}`])],
      env: process.env,
    });
    // Asked once per connection: a client that has --sandbox runs every query with it.
    let sandboxProbe: Promise<boolean> | undefined;
    const hasSandbox = (): Promise<boolean> => (sandboxProbe ??= toolPrints(environment.client, ['--help'], '--sandbox'));
    const sandboxed = async (): Promise<readonly string[]> => {
      if (!await hasSandbox()) {
        throw fail(`${environment.client} has no --sandbox (MariaDB client 10.5.25, 10.6.18, 10.11.8, 11.0.6 and later): a restored `
          + 'dump could run shell commands through it (system, \\!); not loaded. Upgrade the MariaDB client');
      }
      return ['--sandbox'];
    };
    const queryFlags = async (): Promise<readonly string[]> => [...QUERY_FLAGS, ...(await hasSandbox() ? ['--sandbox'] : [])];
    // The session's sql_mode first: quoteLiteral needs backslash escapes on, whatever the server's global sql_mode says.
    const query = async (database: string | undefined, sql: string, what: string): Promise<string> =>
      runQuery({ ...client(database, await queryFlags()), input: `${DUMP_SQL_MODE}${sql}` }, source.timeoutSeconds, what, fail);
    /** The load's queries name what a restored dump says (tables, charset): only through a client that obeys no commands. */
    const loadQuery = async (database: string | undefined, sql: string, what: string): Promise<string> =>
      runQuery({ ...client(database, [...QUERY_FLAGS, ...await sandboxed()]), input: `${DUMP_SQL_MODE}${sql}` }, source.timeoutSeconds, what, fail);
    /**
     * Refuses a backup whose routines or triggers a load would refuse: one whose character_set_client reads our ASCII
     * as other characters (swe7), so the CREATE we build around its bytes would not parse; checked now, not at the load.
     */
    const refuseNonAsciiCharsets = async (records: readonly { readonly name: string; readonly characterSetClient: string }[], what: string): Promise<void> => {
      const charsets = [...new Set(records.map((record) => record.characterSetClient))].filter((charset) => CHARSET_NAME.test(charset));
      if (charsets.length === 0) return;
      const refused = nonAsciiCharsets(await query(undefined, asciiCharsetsQuery(charsets), `checking the character sets of the ${what} of ${source.database}`));
      const record = records.find((candidate) => refused.includes(candidate.characterSetClient));
      if (record !== undefined) {
        throw fail(`${source.file}:${source.line}: ${what.replace(/s$/, '')} ${record.name} of database ${source.database} was created with character_set_client `
          + `${record.characterSetClient}, whose ASCII is not ASCII (backticks, @): a load could not re-create it; re-create it under another character set`
          + `${what === 'routines' ? ', or list the tables to dump with tables =' : ''}`);
      }
    };
    return {
      async readCatalog() {
        const catalog = parseCatalog(await query(source.database, catalogQuery(source.database), `reading the tables of ${source.database}`));
        // Without `tables =` the listing is what is dumped, and information_schema leaves out the tables
        // the user holds no privilege on: only a database-wide read makes the listing whole (mariadb-grants.ts).
        if (source.tables.length === 0) {
          const grants = parseGrants(await query(undefined, GRANTS_QUERY, `reading the grants of the user dumping ${source.database}`));
          if (!readsEveryTable(grants, source.database)) throw fail(`${source.file}:${source.line}: ${unreadableTablesRefusal(grants, source.database)}`);
        }
        return catalog;
      },
      async readMarks(plans: readonly TablePlan[]) {
        const sql = marksQuery(plans);
        return sql === undefined ? new Map() : parseMarks(await query(source.database, sql, 'reading the since_field marks'));
      },
      schemaDump(plans: readonly TablePlan[]): ToolCommand {
        // No DROP TABLE: applied only where none of the dumped tables exists, it must fail rather than drop another.
        // No triggers: created before the rows, each would fire on every loaded row; they go to triggers.jsonl.
        // No routines or events (mariadb-dump's default without --routines, --events): as text, their bodies would
        // reach the loading client to lex like a trigger's; they go to routines.jsonl as data.
        const tables = source.tables.length === 0 ? [] : ['--tables', ...plans.map((plan) => plan.table.name)];
        return {
          file: environment.dump,
          args: [...environment.optionArgs, '--no-data', '--skip-add-drop-table', '--skip-triggers', '--skip-routines', '--skip-events', '--single-transaction', '--skip-comments',
            '--no-tablespaces', '--default-character-set=utf8mb4', source.database, ...tables],
          env: process.env,
        };
      },
      async triggersDump(plans: readonly TablePlan[]): Promise<ToolCommand> {
        const version = await query(undefined, SERVER_VERSION_QUERY, `reading the version of the server of ${source.database}`);
        const tooOld = serverVersionProblem(version, [10, 2], 'a load needs to re-create its triggers (EXECUTE IMMEDIATE)');
        if (tooOld !== undefined) throw fail(`${source.file}:${source.line}: ${tooOld}`);
        // information_schema shows a user only the triggers of the tables it holds TRIGGER on: without it, none, exit 0.
        const grants = parseGrants(await query(undefined, GRANTS_QUERY, `reading the grants of the user dumping ${source.database}`));
        const tables = plans.map((plan) => plan.table.name);
        const unseen = tablesWithout(grants, source.database, tables, 'TRIGGER');
        if (unseen.length > 0) {
          throw fail(`${source.file}:${source.line}: ${source.tables.length === 0 ? unseenTriggersRefusal(grants, source.database)
            : `user ${grants.user} holds no TRIGGER privilege on table ${unseen.join(', ')} of database ${source.database}: its triggers would be `
              + 'left out of the backup unseen; grant TRIGGER on them (or on the database)'}`);
        }
        const listed = parseTriggers(await query(undefined, triggersQuery(source.database), `reading the triggers of ${source.database}`));
        // Their bodies as written: --batch without --raw escapes the tabs and newlines of a statement, one line each.
        const shown = listed.length === 0 ? '' : await runQuery({ ...client(undefined, [...(await queryFlags()).filter((flag) => flag !== '--raw')]),
          input: `${DUMP_SQL_MODE}${showCreateTriggersQuery(source.database, listed)}` }, source.timeoutSeconds, `reading the triggers of ${source.database}`, fail);
        const triggers = withShownBodies(listed, shown, (message) => fail(`${source.file}:${source.line}: ${message}`));
        await refuseNonAsciiCharsets(triggers, 'triggers');
        const dumped = new Set(tables);
        // With `tables =`, the others' triggers are not the dump's; without, a table the catalog did not list (created since) is refused.
        const outside = triggers.filter((trigger) => !dumped.has(trigger.table));
        if (source.tables.length === 0 && outside.length > 0) {
          throw fail(`trigger ${outside[0].name} of database ${source.database} is on table ${outside[0].table}, which is not in the dump `
            + '(created while it was planned?): its load would fail; back up again');
        }
        // Printed as read: the file is ours, a few lines.
        return { file: process.execPath, args: ['-e', 'process.stdin.pipe(process.stdout)'], env: process.env,
          input: triggersFileOf(triggers.filter((trigger) => dumped.has(trigger.table))) };
      },
      async routinesDump() {
        // Not tied to a table: a backup of some tables (`tables =`) holds none, a whole database's all.
        if (source.tables.length > 0) return undefined;
        const version = await query(undefined, SERVER_VERSION_QUERY, `reading the version of the server of ${source.database}`);
        const tooOld = serverVersionProblem(version, [10, 3], 'a whole-database backup needs to read its routines (mysql.proc\'s columns of 10.3) '
          + 'and a load to re-create them; list the tables to dump with tables = (MariaDB 10.2)');
        if (tooOld !== undefined) throw fail(`${source.file}:${source.line}: ${tooOld}`);
        // Without SELECT on mysql.proc, another's routines are unreadable (SHOW CREATE answers nothing, mysql.proc
        // refuses); without EVENT, information_schema lists no event: no error either way, so refused here. An
        // event's text is mysql.event's (eventsQuery): without SELECT on it the query would fail, refused here too.
        const grants = parseGrants(await query(undefined, GRANTS_QUERY, `reading the grants of the user dumping ${source.database}`));
        const missing = { mysqlTables: tablesWithout(grants, 'mysql', ['proc', 'event'], 'SELECT'), event: !readsEveryTable(grants, source.database, 'EVENT') };
        if (missing.mysqlTables.length > 0 || missing.event) throw fail(`${source.file}:${source.line}: ${unseenRoutinesRefusal(grants, source.database, missing)}`);
        const procedures = parseProcedures(await query(undefined, proceduresQuery(source.database), `reading the routines of ${source.database}`));
        if (procedures.refused.length > 0) {
          throw fail(`${source.file}:${source.line}: ${procedures.refused[0]} of database ${source.database} is an Oracle-mode package, which `
            + 'cpsbackup does not back up; it would be left out: drop it, or list the tables to dump with tables =');
        }
        const events = parseEvents(await query(undefined, eventsQuery(source.database), `reading the events of ${source.database}`));
        await refuseNonAsciiCharsets([...procedures.records, ...events], 'routines');
        return { file: process.execPath, args: ['-e', 'process.stdin.pipe(process.stdout)'], env: process.env,
          input: routinesFileOf([...procedures.records, ...events]) };
      },
      dataDump(catalog, plans, backup) {
        // Under mariadb-dump-main.js: a row past max_allowed_packet comes out as a line the client exits 0 on.
        const dumper = client(source.database, [...QUERY_FLAGS, MAX_PACKET_FLAG]);
        return {
          file: process.execPath,
          args: [join(__dirname, 'mariadb-dump-main.js'), dumper.file, ...dumper.args],
          env: dumper.env,
          input: mariadbDataDumpScript(source, plans, dataHeaderOf(source, catalog, plans, backup)),
        };
      },
      async databaseExists(database: string) {
        const answer = await loadQuery(undefined, `SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ${quoteLiteral(database)};`,
          `looking for database ${database}`);
        return answer.trim() === '1';
      },
      async existingTables(database: string, tables: readonly string[]) {
        const answer = await loadQuery(undefined, `SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ${quoteLiteral(database)} `
          + `AND TABLE_NAME IN (${tables.map(quoteLiteral).join(', ')});`, `looking for the tables in ${database}`);
        const names = answer.split('\n').filter((name) => name !== '');
        const keys = names.length === 0 ? '' : await loadQuery(undefined, uniqueKeysQuery(database, names), `reading the unique keys in ${database}`);
        const uniqueKeys = parseUniqueKeys(keys);
        return names.map((name) => ({ name, uniqueKeys: uniqueKeys.get(name) ?? [] }));
      },
      async checkOutsideReferences(database: string, tables: readonly string[]) {
        const answer = await loadQuery(undefined, outsideReferencesQuery(database, tables), `looking for foreign keys into ${database}`);
        const references = parseOutsideReferences(answer);
        if (references.length > 0) throw fail(outsideReferencesRefusal(database, references));
      },
      async createDatabase(database, header) {
        // Names, not literals: spliced as they are, so only a name's own letters pass (data-header-check.ts checks it first too).
        for (const name of [header.charset, header.collation]) {
          if (name !== undefined && !CHARSET_NAME.test(name)) throw fail(`not creating database ${database}: the dump's charset or collation ${JSON.stringify(name)} is not a name`);
        }
        const charset = header.charset === undefined ? '' : ` CHARACTER SET ${header.charset}${header.collation === undefined ? '' : ` COLLATE ${header.collation}`}`;
        await loadQuery(undefined, `CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(database)}${charset};`, `creating database ${database}`);
      },
      async loader(database: string) {
        // --sandbox: `system`, `\!`, `source` and the other commands that reach this host's files are refused.
        // --comments: the client passes comments on rather than lexing them away. Without it, a string in schema.sql
        // holding `*/` ended mariadb-dump's `/*!50003 ... */` for the client, which then split the rest at a `;;` of
        // that string and ran it (a dump from before triggers.jsonl: a trigger's body could GRANT; found by review);
        // with it the server gets the statement whole, and such a trigger fails the load. Comments in bodies are kept.
        return client(database, ['--batch', ...await sandboxed(), '--comments', '--skip-column-names', '--default-character-set=utf8mb4', MAX_PACKET_FLAG]);
      },
      loadScript: mariadbLoadScript,
      stepFailureNote: loadStepFailureNote,
      loadWarnings: disabledEventsWarnings,
      remove: () => environment.remove(),
    };
  },
};
