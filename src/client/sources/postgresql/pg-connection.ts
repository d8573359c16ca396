// How psql and pg_dump reach a source's server: libpq environment variables (never argv), the
// password in a PGPASSFILE of the run's private folder, and fixed session settings so every dump
// writes, and every load reads, COPY text the same way whatever the database or role sets.
import type { DatabaseSource } from '../storage-config';
import { makePrivateFolder, readPassword, type PrivateFolder } from '../tables/credentials';
import type { FailureFactory } from '../tables/dialect';
import { findTool } from '../tables/tool-command';

export interface PgTools {
  readonly psql: string;
  readonly pgDump: string;
}

export interface PgEnvironment {
  readonly tools: PgTools;
  /** The environment for a tool connected to `database`. */
  env(database: string): NodeJS.ProcessEnv;
  /** The same for the load's psql, every setting pinned but search_path. */
  loadEnv(database: string): NodeJS.ProcessEnv;
  remove(): Promise<void>;
}

/**
 * Every setting that changes how COPY writes or reads a value, pinned as pg_dump pins them, for the dump's
 * and the load's sessions alike (libpq's PGOPTIONS: above ALTER DATABASE / ALTER ROLE ... SET). A database
 * with IntervalStyle sql_standard wrote `-1 -2:03:00`, which a session in postgres style read as -1 day
 * +02:03:00; search_path '' makes reg* values (regclass, regtype, regproc) come out schema-qualified, as
 * the load (with schema.sql's search_path '') needs them; xmloption document refused a content fragment.
 * No value holds a space: PGOPTIONS splits on them.
 */
export const SESSION_SETTINGS: readonly (readonly [string, string])[] = [
  ['DateStyle', 'ISO,YMD'],
  ['IntervalStyle', 'postgres'],
  ['TimeZone', 'UTC'],
  ['extra_float_digits', '3'],
  ['search_path', ''],
  ['xmloption', 'content'],
  ['standard_conforming_strings', 'on'],
  ['bytea_output', 'hex'],
  ['client_encoding', 'UTF8'],
];

/** A pgpass line matching every host, port, database and user; ':' and '\' escaped as libpq reads them. */
function pgpassLine(password: string): string {
  return `*:*:*:*:${password.replace(/[\\:]/g, (character) => `\\${character}`)}\n`;
}

export async function pgEnvironment(source: DatabaseSource, baseDirectory: string, fail: FailureFactory): Promise<PgEnvironment> {
  const psql = findTool(['psql'], source.binDirectory);
  const pgDump = findTool(['pg_dump'], source.binDirectory);
  if (psql === undefined || pgDump === undefined) {
    throw fail(`psql and pg_dump must be installed (Debian package postgresql-client)${source.binDirectory ? ` in ${source.binDirectory}` : ''}`);
  }
  let folder: PrivateFolder | undefined;
  let passFile: string | undefined;
  if (source.passwordFile !== undefined) {
    const password = await readPassword(source.passwordFile);
    folder = await makePrivateFolder(baseDirectory, fail);
    passFile = await folder.write('pgpass', pgpassLine(password));
  }
  // Ours after the caller's PGOPTIONS: the last -c of a name wins. PGTZ, PGDATESTYLE and PGCLIENTENCODING
  // say the same for a reader of the environment (and any libpq that would otherwise send its own).
  const optionsOf = (settings: readonly (readonly [string, string])[]): string =>
    `${process.env.PGOPTIONS ?? ''} ${settings.map(([name, value]) => `-c ${name}=${value}`).join(' ')}`.trim();
  const fixed: NodeJS.ProcessEnv = {
    PGTZ: 'UTC', PGDATESTYLE: 'ISO, YMD', PGCLIENTENCODING: 'UTF8', PGOPTIONS: optionsOf(SESSION_SETTINGS), PGAPPNAME: 'cpsbackup',
    ...((source.socket ?? source.host) === undefined ? {} : { PGHOST: source.socket ?? source.host }),
    ...(source.port === undefined ? {} : { PGPORT: String(source.port) }),
    ...(source.user === undefined ? {} : { PGUSER: source.user }),
    ...(passFile === undefined ? {} : { PGPASSFILE: passFile }),
  };
  return {
    tools: { psql, pgDump },
    env: (database) => ({ ...process.env, ...fixed, PGDATABASE: database }),
    // The load's search_path is the database's own: a CHECK, a DEFAULT or a trigger's function that names a
    // table unqualified ran with it before, and failed with '' over existing tables (review). schema.sql
    // sets '' itself where it runs (a load into a new database), as pg_restore does.
    loadEnv: (database) => ({
      ...process.env, ...fixed, PGOPTIONS: optionsOf(SESSION_SETTINGS.filter(([name]) => name !== 'search_path')), PGDATABASE: database,
    }),
    remove: async () => folder?.remove(),
  };
}
