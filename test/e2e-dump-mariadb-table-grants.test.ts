// Regression: a mariadb source without `tables =` listed its tables from information_schema, which
// MariaDB cuts to the tables the user holds some privilege on, so with SELECT on crm.accounts only,
// `cpsbackup -e` exited 0 with a dump that silently lacked crm.invoices. Proves through the real CLI
// and server against a real MariaDB that such a user fails the backup naming the database, that it
// may still dump the tables it lists, and that a database-wide SELECT, given to the user or through
// a default role, backs up every table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox, type CommandResult } from './support/sandbox';
import { sectionRows } from './support/dump-tables';
import { mariadbSkipReason, startMariadb, type MariadbServer } from './support/mariadb';

const skip = mariadbSkipReason();
if (skip !== undefined) console.log(`e2e-dump-mariadb-table-grants skipped: ${skip}`);

function exited(result: CommandResult, code: number, what: string): CommandResult {
  assert.equal(result.code, code, `${what} exited ${result.code ?? result.signal}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  return result;
}

test('mariadb source without tables =: a user who may not read every table fails -e naming the database; a database-wide SELECT dumps every table', { skip }, async () => {
  const sandbox = await Sandbox.create();
  let server: MariadbServer | undefined;
  try {
    await sandbox.startServer();
    server = await startMariadb();
    await server.query('mysql', `
      CREATE DATABASE crm;
      CREATE TABLE crm.accounts (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL);
      CREATE TABLE crm.invoices (id INT PRIMARY KEY, total DECIMAL(10,2) NOT NULL);
      INSERT INTO crm.accounts VALUES (1, 'first account');
      INSERT INTO crm.invoices VALUES (1, 10.50), (2, 20.25);
      CREATE USER backup@localhost; GRANT SELECT, TRIGGER ON crm.accounts TO backup@localhost;
      CREATE USER crm_reader@localhost; GRANT SELECT, TRIGGER, EVENT ON crm.* TO crm_reader@localhost; GRANT SELECT ON mysql.proc TO crm_reader@localhost; GRANT SELECT ON mysql.event TO crm_reader@localhost;
      CREATE ROLE crm_read; GRANT SELECT, TRIGGER, EVENT ON crm.* TO crm_read; GRANT SELECT ON mysql.proc TO crm_read; GRANT SELECT ON mysql.event TO crm_read; CREATE ROLE backup_role; GRANT crm_read TO backup_role;
      CREATE USER role_user@localhost; GRANT backup_role TO role_user@localhost; SET DEFAULT ROLE backup_role FOR role_user@localhost;`);
    const storage = join(sandbox.root, 'storage.conf');
    const useSource = (user: string, lines: readonly string[] = []): Promise<void> => writeFile(storage,
      `${['source = crm', 'kind = mariadb', 'database = crm', `socket = ${server?.socket}`, `user = ${user}`, ...lines].join('\n')}\n`);
    const config = await sandbox.writeNodeConfig('node1', [`storage_conf = ${storage}`]);
    const cli = (...args: string[]): Promise<CommandResult> => sandbox.runClient(['-c', config, ...args]);
    const backupIds = async (): Promise<number[]> =>
      (JSON.parse(exited(await cli('-l', '--json'), 0, '-l').stdout) as { id: number }[]).map((backup) => backup.id);
    const storedData = async (backupId: number): Promise<string> => {
      const to = join(sandbox.root, `restored-${backupId}`);
      exited(await cli('-i', String(backupId), '--no-load', '--to', to), 0, '-i --no-load --to');
      return readFile(join(to, sandbox.root, 'work', 'node1', 'dumps', 'crm', 'data.sql'), 'utf8');
    };

    await useSource('backup');
    const refused = exited(await cli('-e'), 1, '-e as a user with SELECT on crm.accounts only');
    assert.match(refused.stderr, /dump source crm: .*storage\.conf:1: user backup@localhost may not read every table of database crm/);
    assert.match(refused.stderr, /grant SELECT ON `crm`\.\* TO 'backup'@'localhost', or list the tables to dump with tables =/);
    assert.doesNotMatch(refused.stderr, /\n\s+at /, 'no stack trace for a refused source');
    assert.deepEqual(await backupIds(), [], 'no backup kept');

    // The least-privilege setup the refusal offers: the tables it may read, named.
    await useSource('backup', ['tables = accounts']);
    exited(await cli('-e'), 0, '-e as the same user with tables = accounts');
    const [listedOnly] = await backupIds();
    assert.equal(sectionRows(await storedData(listedOnly), 'accounts').length, 1);

    for (const user of ['crm_reader', 'role_user']) {
      await useSource(user);
      exited(await cli('-e'), 0, `-e as ${user}`);
      const ids = await backupIds();
      const data = await storedData(ids[ids.length - 1]);
      assert.equal(sectionRows(data, 'accounts').length, 1, `${user}: accounts dumped`);
      assert.equal(sectionRows(data, 'invoices').length, 2, `${user}: invoices dumped`);
    }
  } finally {
    await server?.stop();
    await sandbox.destroy();
  }
});
