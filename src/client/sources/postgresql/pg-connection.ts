// How psql and pg_dump reach a source's server: libpq environment variables (never argv), the
// password in a PGPASSFILE of the run's private folder, and fixed session settings so every dump
// reads the same way (UTC, ISO dates, UTF-8, exact floats).
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
  remove(): Promise<void>;
}

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
  const options = `${process.env.PGOPTIONS ?? ''} -c extra_float_digits=3 -c standard_conforming_strings=on`.trim();
  const fixed: NodeJS.ProcessEnv = {
    PGTZ: 'UTC', PGDATESTYLE: 'ISO, YMD', PGCLIENTENCODING: 'UTF8', PGOPTIONS: options, PGAPPNAME: 'cpsbackup',
    ...((source.socket ?? source.host) === undefined ? {} : { PGHOST: source.socket ?? source.host }),
    ...(source.port === undefined ? {} : { PGPORT: String(source.port) }),
    ...(source.user === undefined ? {} : { PGUSER: source.user }),
    ...(passFile === undefined ? {} : { PGPASSFILE: passFile }),
  };
  return {
    tools: { psql, pgDump },
    env: (database) => ({ ...process.env, ...fixed, PGDATABASE: database }),
    remove: async () => folder?.remove(),
  };
}
