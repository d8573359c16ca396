// Proves PostgreSQL dumps end to end through the real CLI and server: pg_dump through a FIFO,
// -l/-s, drop, -i loads it back identical; dedup of a re-dump; complete + partial chains restored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox, type CommandResult } from './support/sandbox';
import { POSTGRES_BIN, postgresSkipReason, startPostgres, type PostgresServer } from './support/postgres';

const skip = postgresSkipReason();
if (skip !== undefined) console.log(`e2e-dump-postgres skipped: ${skip}`);

interface Listed {
  id: number;
  kind: string;
  logicalBytes: number;
  newBytes: number;
  storedBytes: number;
  labels: Record<string, string>;
}

async function withSandbox(run: (sandbox: Sandbox, server: PostgresServer) => Promise<void>): Promise<void> {
  const sandbox = await Sandbox.create();
  let postgres: PostgresServer | undefined;
  try {
    await sandbox.startServer();
    postgres = await startPostgres();
    await run(sandbox, postgres);
  } finally {
    await postgres?.stop();
    await sandbox.destroy();
  }
}

/** node1.conf with a storage.conf holding `lines`; returns a runner of the CLI with it. */
async function configure(sandbox: Sandbox, lines: readonly string[]): Promise<(...args: string[]) => Promise<CommandResult>> {
  const storage = join(sandbox.root, 'storage.conf');
  await writeFile(storage, `${lines.join('\n')}\n`);
  const config = await sandbox.writeNodeConfig('node1', [`storage_conf = ${storage}`]);
  return (...args) => sandbox.runClient(['-c', config, ...args]);
}

function ok(result: CommandResult, what: string): CommandResult {
  assert.equal(result.code, 0, `${what} exited ${result.code ?? result.signal}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  return result;
}

async function listed(cli: (...args: string[]) => Promise<CommandResult>): Promise<Listed[]> {
  return JSON.parse(ok(await cli('-l', '--json'), '-l --json').stdout) as Listed[];
}

const fingerprint = (server: PostgresServer, table: string): Promise<string> =>
  server.psql('shop', `SELECT count(*) || ' ' || md5(string_agg(t::text, '|' ORDER BY id)) FROM ${table} t`);

const mebibytes = (bytes: number): string => `${(bytes / 1048576).toFixed(2)} MiB`;

test('pg_dump through the CLI: listed, shown with its version, loaded back identical after a drop; a re-dump dedups', { skip }, async () => {
  await withSandbox(async (sandbox, server) => {
    const rows = 100_000;
    await server.psql('postgres', 'CREATE DATABASE shop');
    await server.psql('shop', `
      CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, price numeric(12,2), note text, updated_at timestamptz NOT NULL);
      INSERT INTO items SELECT n, 'item ' || n || ' é€', n * 0.37, md5(n::text) || md5((n * 7)::text), '2024-01-01'::timestamptz + n * interval '1 minute'
        FROM generate_series(1, ${rows}) AS n;`);
    const cli = await configure(sandbox, [
      'source = shop',
      'kind = command',
      // -Z0: the store compresses every chunk; a compressed dump would defeat content-defined dedup.
      `dump = ${POSTGRES_BIN}/pg_dump ${server.connection} -Fc -Z0 shop`,
      `load = ${POSTGRES_BIN}/pg_restore ${server.connection} --create -d postgres --exit-on-error {file}`,
      `version_command = ${POSTGRES_BIN}/psql ${server.connection} -d shop -XAtc 'SHOW server_version'`,
    ]);
    const before = await fingerprint(server, 'items');
    ok(await cli('-e'), '-e');
    const [first] = await listed(cli);
    assert.equal(first.kind, 'complete');
    assert.match(first.labels['version.shop'], /^15\./);
    const shown = ok(await cli('-s', String(first.id)), '-s').stdout;
    const dumpPath = join(sandbox.root, 'work', 'node1', 'dumps', 'shop', 'dump');
    assert.match(shown, new RegExp(`^dump .* ${dumpPath}$`, 'm'));
    assert.match(shown, /version\.shop=15\./);

    await server.psql('postgres', 'DROP DATABASE shop');
    const restored = ok(await cli('-i'), '-i');
    assert.match(restored.stdout, /loaded shop from /);
    assert.equal(await fingerprint(server, 'items'), before);
    await assert.rejects(stat(dumpPath), { code: 'ENOENT' }, 'the dump file is deleted once loaded');

    // 1% of the rows changed, spread over the table (every 100th row), then 1% in one id range.
    await server.psql('shop', `UPDATE items SET price = price + 1, updated_at = now() WHERE id % 100 = 0`);
    ok(await cli('-e'), '-e after 1% scattered changes');
    await server.psql('shop', `UPDATE items SET price = price + 1, updated_at = now() WHERE id BETWEEN 50001 AND ${50000 + rows / 100}`);
    ok(await cli('-e'), '-e after 1% clustered changes');
    const [, scattered, clustered] = await listed(cli);
    for (const [name, backup] of [['first dump', first], ['1% scattered', scattered], ['1% clustered', clustered]] as const) {
      console.log(`e2e-dump-postgres: ${rows} rows, ${name}: dump ${mebibytes(backup.logicalBytes)}, new ${mebibytes(backup.newBytes)} `
        + `(${(100 * backup.newBytes / backup.logicalBytes).toFixed(1)}%), stored ${mebibytes(backup.storedBytes)}`);
    }
    assert.ok(first.newBytes > 0 && first.storedBytes < first.logicalBytes, 'the first dump is stored, compressed');
    assert.ok(clustered.newBytes < clustered.logicalBytes / 2, 'a clustered 1% change stores well under half the dump again');
  });
});

test('complete, then two partial backups of changed rows: -i of the newest applies all three in order', { skip }, async () => {
  await withSandbox(async (sandbox, server) => {
    await server.psql('postgres', 'CREATE DATABASE shop');
    await server.psql('shop', `
      CREATE TABLE items (id int PRIMARY KEY, value text, updated_at timestamptz NOT NULL);
      INSERT INTO items SELECT n, 'v1 ' || n, now() - interval '1 day' FROM generate_series(1, 20000) AS n;`);
    const psql = `${POSTGRES_BIN}/psql ${server.connection} -d shop -X -q -v ON_ERROR_STOP=1`;
    const cli = await configure(sandbox, [
      'source = shop',
      'kind = command',
      `dump = ${POSTGRES_BIN}/pg_dump ${server.connection} -Fc shop`,
      `load = ${POSTGRES_BIN}/pg_restore ${server.connection} --create -d postgres --exit-on-error {file}`,
      `dump_partial = ${psql} -c "\\copy (SELECT * FROM items WHERE updated_at >= '{since}') TO STDOUT"`,
      `load_partial = ${psql} -c 'CREATE TEMP TABLE stage (LIKE items)' -c '\\copy stage FROM pstdin' `
        + `-c 'INSERT INTO items SELECT * FROM stage ON CONFLICT (id) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at'`,
    ]);
    ok(await cli('-e'), '-e');
    await server.psql('shop', `
      UPDATE items SET value = 'v2 ' || id, updated_at = clock_timestamp() WHERE id % 7 = 0;
      INSERT INTO items SELECT n, 'new ' || n, clock_timestamp() FROM generate_series(20001, 20500) AS n;`);
    const partial = ok(await cli('-e', '--partial'), '-e --partial');
    assert.match(partial.stderr, /dumping changes since /);
    const afterFirstPartial = await fingerprint(server, 'items');
    await server.psql('shop', `
      UPDATE items SET value = 'v3 ' || id, updated_at = clock_timestamp() WHERE id % 11 = 0 OR id > 20400;
      INSERT INTO items SELECT n, 'newer ' || n, clock_timestamp() FROM generate_series(20501, 20800) AS n;`);
    ok(await cli('-e', '--partial'), 'second -e --partial');
    const source = await fingerprint(server, 'items');

    const backups = await listed(cli);
    assert.deepEqual(backups.map((backup) => backup.kind), ['complete', 'partial', 'partial']);
    const lines = ok(await cli('-l'), '-l').stdout.trim().split('\n');
    assert.deepEqual(lines.map((line) => / partial( |$)/.test(line)), [false, true, true]);
    console.log(`e2e-dump-postgres: 20000 rows, complete dump (pg_dump -Fc) ${mebibytes(backups[0].logicalBytes)}, `
      + `partial dumps (COPY text) ${mebibytes(backups[1].logicalBytes)} and ${mebibytes(backups[2].logicalBytes)}`);

    await server.psql('postgres', 'DROP DATABASE shop');
    const restored = ok(await cli('-i'), '-i of the newest partial');
    assert.equal(restored.stdout.match(/^loaded shop /gm)?.length, 3, restored.stdout);
    assert.equal(await fingerprint(server, 'items'), source);

    await server.psql('postgres', 'DROP DATABASE shop');
    ok(await cli('-i', String(backups[1].id)), '-i of the first partial');
    assert.equal(await fingerprint(server, 'items'), afterFirstPartial);
  });
});
