// How the mariadb/mysql client and mariadb-dump/mysqldump reach a source's server: an option file
// (user, password, host, port, socket) in the run's private folder, given first on the command
// line as --defaults-extra-file, so the password never shows in ps.
import type { DatabaseSource } from '../storage-config';
import { makePrivateFolder, readPassword, type PrivateFolder } from '../tables/credentials';
import type { FailureFactory } from '../tables/dialect';
import { findTool } from '../tables/tool-command';

export interface MariadbEnvironment {
  readonly client: string;
  readonly dump: string;
  /** Must come first on the tools' command lines. */
  readonly optionArgs: readonly string[];
  remove(): Promise<void>;
}

/** Option files take "double-quoted" values with backslash escapes. */
function optionValue(value: string): string {
  return `"${value.replace(/[\\"]/g, (character) => `\\${character}`).replace(/\n/g, '\\n')}"`;
}

export async function mariadbEnvironment(source: DatabaseSource, baseDirectory: string, fail: FailureFactory): Promise<MariadbEnvironment> {
  const client = findTool(['mariadb', 'mysql'], source.binDirectory);
  const dump = findTool(['mariadb-dump', 'mysqldump'], source.binDirectory);
  if (client === undefined || dump === undefined) {
    throw fail(`mariadb and mariadb-dump (or mysql and mysqldump) must be installed (Debian package mariadb-client)${source.binDirectory ? ` in ${source.binDirectory}` : ''}`);
  }
  const lines = ['[client]'];
  if (source.user !== undefined) lines.push(`user=${optionValue(source.user)}`);
  if (source.passwordFile !== undefined) lines.push(`password=${optionValue(await readPassword(source.passwordFile))}`);
  if (source.host !== undefined) lines.push(`host=${optionValue(source.host)}`);
  if (source.port !== undefined) lines.push(`port=${source.port}`);
  if (source.socket !== undefined) lines.push(`socket=${optionValue(source.socket)}`);
  let folder: PrivateFolder | undefined;
  let optionArgs: string[] = [];
  if (lines.length > 1) {
    folder = await makePrivateFolder(baseDirectory, fail);
    optionArgs = [`--defaults-extra-file=${await folder.write('client.cnf', `${lines.join('\n')}\n`)}`];
  }
  return { client, dump, optionArgs, remove: async () => folder?.remove() };
}
