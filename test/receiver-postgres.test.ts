// The receiver workflow end to end with a real PostgreSQL per side: production backs up (complete,
// then partials) through the CLI; a second node allowed by restore_client runs -i --client prod
// --if-new, loads the dumps into its own database and runs postprocess once per receive; a second
// run is a no-op, a failed postprocess leaves the state for the next run, a stranger is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox, type CommandResult } from './support/sandbox';
import { POSTGRES_BIN, postgresSkipReason, startPostgres, type PostgresServer } from './support/postgres';

const skip = postgresSkipReason();
if (skip !== undefined) console.log(`receiver-postgres skipped: ${skip}`);

function exited(result: CommandResult, code: number, what: string): CommandResult {
  assert.equal(result.code, code, `${what} exited ${result.code ?? result.signal}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  return result;
}

const fingerprint = (server: PostgresServer): Promise<string> =>
  server.psql('shop', `SELECT count(*) || ' ' || md5(string_agg(t::text, '|' ORDER BY id)) FROM items t`);

/** A command source for `shop` on `server`: pg_dump complete, COPY of changed rows partial, upsert on load. */
function shopSource(server: PostgresServer): string[] {
  const psql = `${POSTGRES_BIN}/psql ${server.connection} -X -q -v ON_ERROR_STOP=1`;
  return [
    'source = shop',
    'kind = command',
    `dump = ${POSTGRES_BIN}/pg_dump ${server.connection} -Fc shop`,
    // Complete: replace the receiver's database.
    `load = ${psql} -d postgres -c 'DROP DATABASE IF EXISTS shop' && ${POSTGRES_BIN}/pg_restore ${server.connection} --create -d postgres --exit-on-error {file}`,
    `dump_partial = ${psql} -d shop -c "\\copy (SELECT * FROM items WHERE updated_at >= '{since}') TO STDOUT"`,
    // Partial: upsert on top.
    `load_partial = ${psql} -d shop -c 'CREATE TEMP TABLE stage (LIKE items)' -c '\\copy stage FROM pstdin' `
      + `-c 'INSERT INTO items SELECT * FROM stage ON CONFLICT (id) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at'`,
  ];
}

test('receiver: loads complete and partial backups of prod into its own PostgreSQL, once each, then postprocess', { skip }, async (t) => {
  const sandbox = await Sandbox.create({ clients: ['prod'] });
  let production: PostgresServer | undefined;
  let replica: PostgresServer | undefined;
  t.after(async () => {
    await production?.stop();
    await replica?.stop();
    await sandbox.destroy();
  });
  await sandbox.addClient('receiver', ['restore_client = prod']);
  await sandbox.addClient('stranger');
  await sandbox.startServer();
  production = await startPostgres();
  replica = await startPostgres();

  await production.psql('postgres', 'CREATE DATABASE shop');
  await production.psql('shop', `
    CREATE TABLE items (id int PRIMARY KEY, value text, updated_at timestamptz NOT NULL);
    INSERT INTO items SELECT n, 'v1 ' || n, now() - interval '1 day' FROM generate_series(1, 5000) AS n;`);
  // The receiver already has a database of that name with other content: a complete load replaces it.
  await replica.psql('postgres', 'CREATE DATABASE shop');
  await replica.psql('shop', `CREATE TABLE items (id int PRIMARY KEY, value text, updated_at timestamptz NOT NULL);
    INSERT INTO items VALUES (999999, 'stale', now());`);

  const prodStorage = join(sandbox.root, 'prod-storage.conf');
  await writeFile(prodStorage, `${shopSource(production).join('\n')}\n`);
  const prodConfig = await sandbox.writeNodeConfig('prod', [`storage_conf = ${prodStorage}`]);
  const receiverStorage = join(sandbox.root, 'receiver-storage.conf');
  await writeFile(receiverStorage, `${shopSource(replica).join('\n')}\n`);
  const postprocessLog = join(sandbox.root, 'postprocess.log');
  const receiverLines = (postprocess: string): string[] => [`storage_conf = ${receiverStorage}`, `postprocess = ${postprocess}`];
  const appendLine = `echo "$CPSBACKUP_BACKUP_ID $CPSBACKUP_BACKUP_KIND $CPSBACKUP_APPLIED_BACKUPS" >> ${postprocessLog}`;
  const receiverConfig = await sandbox.writeNodeConfig('receiver', receiverLines(appendLine));
  const strangerConfig = await sandbox.writeNodeConfig('stranger', [`storage_conf = ${receiverStorage}`]);
  const prod = (...args: string[]): Promise<CommandResult> => sandbox.runClient(['-c', prodConfig, ...args]);
  const receive = (): Promise<CommandResult> => sandbox.runClient(['-c', receiverConfig, '-i', '--client', 'prod', '--if-new']);
  const postprocessed = async (): Promise<string[]> => (await readFile(postprocessLog, 'utf8').catch(() => '')).split('\n').filter(Boolean);
  const stateFile = join(sandbox.root, 'state', 'receiver', 'receive', 'prod.json');
  const appliedId = async (): Promise<number> => (JSON.parse(await readFile(stateFile, 'utf8')) as { backupId: number }).backupId;

  // A client without restore_client is refused by the server, before anything is loaded.
  const refused = await sandbox.runClient(['-c', strangerConfig, '-i', '--client', 'prod', '--if-new']);
  exited(refused, 12, 'stranger -i --client prod --if-new');
  assert.match(refused.stderr, /client "stranger" may not read backups of client "prod"$/m);
  // The key that would allow it is the server's business: its log names it, the client is not told (issue 13).
  assert.doesNotMatch(refused.stderr, /restore_client/);
  assert.equal(await receive().then((result) => exited(result, 0, 'receive before any backup').stdout), 'Nothing new: no backup of prod to receive yet\n');

  // 1. A complete backup replaces the receiver's database.
  exited(await prod('-e'), 0, 'prod -e');
  const atComplete = await fingerprint(production);
  const first = exited(await receive(), 0, 'first receive');
  assert.match(first.stdout, /^Received backup 1 of prod: 1 dumps loaded, postprocess done; backup 1 recorded as applied$/m);
  assert.equal(await fingerprint(replica), atComplete);
  assert.deepEqual(await postprocessed(), ['1 complete 1']);

  // 2. Two partial backups while the receiver is not looking: it applies both, in order.
  await production.psql('shop', `UPDATE items SET value = 'v2 ' || id, updated_at = clock_timestamp() WHERE id % 7 = 0;
    INSERT INTO items SELECT n, 'new ' || n, clock_timestamp() FROM generate_series(5001, 5300) AS n;`);
  exited(await prod('-e', '--partial'), 0, 'first prod -e --partial');
  await production.psql('shop', `UPDATE items SET value = 'v3 ' || id, updated_at = clock_timestamp() WHERE id % 11 = 0 OR id > 5200;`);
  exited(await prod('-e', '--partial'), 0, 'second prod -e --partial');
  const atLastBackup = await fingerprint(production);
  // Changes after the last backup must not reach the receiver.
  await production.psql('shop', `UPDATE items SET value = 'unsaved', updated_at = clock_timestamp() WHERE id < 100`);
  const second = exited(await receive(), 0, 'second receive');
  assert.match(second.stdout, /^Received backups 2, 3 of prod: 2 dumps loaded/m);
  assert.match(second.stderr, /loaded shop from partial backup 2\n[\s\S]*loaded shop from partial backup 3/);
  assert.equal(await fingerprint(replica), atLastBackup, 'the receiver equals production at its last backup');
  assert.deepEqual(await postprocessed(), ['1 complete 1', '3 partial 2,3'], 'postprocess ran once per receive');
  assert.equal(await appliedId(), 3);

  // 3. Nothing new: a second run applies nothing and runs no postprocess.
  const again = exited(await receive(), 0, 'receive with nothing new');
  assert.equal(again.stdout, 'Nothing new: backup 3 of prod (partial) is already applied\n');
  assert.equal(await fingerprint(replica), atLastBackup);
  assert.equal((await postprocessed()).length, 2);

  // 4. A failing postprocess records nothing: the next run applies the same backup again, then records it.
  exited(await prod('-e', '--partial'), 0, 'third prod -e --partial');
  const atFourth = await fingerprint(production);
  await sandbox.writeNodeConfig('receiver', receiverLines(`echo "report tables broken" >&2; exit 7`));
  const failed = exited(await receive(), 3, 'receive with a failing postprocess');
  assert.match(failed.stderr, /postprocess.*exited with code 7[\s\S]*report tables broken/);
  assert.equal(await appliedId(), 3, 'state unchanged after the failure');
  await sandbox.writeNodeConfig('receiver', receiverLines(appendLine));
  exited(await receive(), 0, 'receive retried');
  assert.equal(await appliedId(), 4);
  assert.equal(await fingerprint(replica), atFourth);
  assert.deepEqual(await postprocessed(), ['1 complete 1', '3 partial 2,3', '4 partial 4']);

  // 5. A new complete backup: loaded alone (it replaces), whatever partials came before it.
  await production.psql('shop', `INSERT INTO items SELECT n, 'late ' || n, clock_timestamp() FROM generate_series(6001, 6100) AS n;`);
  exited(await prod('-e', '--partial'), 0, 'fourth prod -e --partial');
  await production.psql('shop', `DELETE FROM items WHERE id BETWEEN 6001 AND 6050`); // a deletion only a complete dump carries
  exited(await prod('-e'), 0, 'second prod -e');
  const atSecondComplete = await fingerprint(production);
  const fifth = exited(await receive(), 0, 'receive of the new complete backup');
  assert.match(fifth.stdout, /^Received backup 6 of prod: 1 dumps loaded/m);
  assert.equal(await fingerprint(replica), atSecondComplete);
  assert.deepEqual((await postprocessed()).at(-1), '6 complete 6');
  console.log(`receiver-postgres: production ${atSecondComplete.split(' ')[0]} rows; receives: 1 complete, 2+3 partial, `
    + `4 partial (after a failed postprocess), 6 complete; postprocess lines ${(await postprocessed()).length}`);
});
