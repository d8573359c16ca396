// Scenario 14: 8 clients each run many small backups in a row against one real server over real TLS.
// Proves no backup fails, the last one of each client restores identically, server memory stays
// bounded, and the catalog grows linearly with kept backups (or stays bounded when retention prunes).
// The figure is 200 backups per client (CPSBACKUP_LOAD_BACKUPS=200); CI runs 25 by default.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { Sandbox } from './support/sandbox';
import { loadNodeConfig, type NodeConfig } from '../src/common/config/node-config';
import { runBackup } from '../src/client/uploader';
import { runRestore } from '../src/client/restorer';
import { BackupKind } from '../src/proto/cpsbackup';
import { compareTrees } from './support/trees';
import { peakRssOf } from './support/rss';

const CLIENT_COUNT = 8;
const FILES_PER_CLIENT = 4;
const MEBIBYTE = 1024 * 1024;
const RSS_LIMIT_BYTES = 256 * MEBIBYTE;
const backupsPerClient = Number(process.env.CPSBACKUP_LOAD_BACKUPS ?? 25);

interface LoadClient {
  readonly name: string;
  readonly data: string;
  readonly config: NodeConfig;
}

/** One small file changes per round, so every backup stores a little new data and dedups the rest. */
async function changeTree(client: LoadClient, round: number): Promise<void> {
  const index = round % FILES_PER_CLIENT;
  const line = `${client.name} round ${round} file ${index}\n`;
  await writeFile(join(client.data, `file-${index}.txt`), line.repeat(200 + (round % 50)));
  await writeFile(join(client.data, 'round.txt'), `${round}\n`);
}

interface CatalogSize {
  /** catalog.db plus catalog.db-wal on disk. */
  readonly fileBytes: number;
  /** Pages in use (WAL included, free pages excluded): what the rows take, free of checkpoint timing. */
  readonly usedBytes: number;
}

/** The WAL fills to its checkpoint size early and then stays, so file sizes alone hide the trend. */
async function catalogSize(storeDirectory: string): Promise<CatalogSize> {
  let fileBytes = 0;
  for (const name of ['catalog.db', 'catalog.db-wal']) {
    fileBytes += await stat(join(storeDirectory, name)).then((stats) => stats.size, () => 0);
  }
  const database = new Database(join(storeDirectory, 'catalog.db'), { readonly: true, fileMustExist: true });
  try {
    const pragma = (name: string): number => database.pragma(name, { simple: true }) as number;
    return { fileBytes, usedBytes: (pragma('page_count') - pragma('freelist_count')) * pragma('page_size') };
  } finally {
    database.close();
  }
}

async function startClients(sandbox: Sandbox): Promise<LoadClient[]> {
  const clients: LoadClient[] = [];
  for (let number = 1; number <= CLIENT_COUNT; number++) {
    const name = `node${number}`;
    const data = join(sandbox.root, 'data', name);
    await mkdir(join(data, 'sub', 'empty'), { recursive: true });
    const file = await sandbox.writeNodeConfig(name, [`include = ${data}`]);
    const client = { name, data, config: loadNodeConfig(file) };
    for (let round = 0; round < FILES_PER_CLIENT; round++) await changeTree(client, round);
    clients.push(client);
  }
  return clients;
}

interface LoadResult {
  readonly clients: LoadClient[];
  /** Catalog size after each third of the rounds, index 0 before the first. */
  readonly catalogSizes: CatalogSize[];
  readonly serverPeakBytes: number;
  readonly elapsedMs: number;
}

async function runLoad(sandbox: Sandbox, serverPid: number): Promise<LoadResult> {
  const clients = await startClients(sandbox);
  const catalogSizes = [await catalogSize(sandbox.storeDirectory)];
  const thirds = [Math.round(backupsPerClient / 3), Math.round((2 * backupsPerClient) / 3), backupsPerClient];
  const started = Date.now();
  let round = 0;
  for (const end of thirds) {
    // Clients run side by side; each one's backups follow one another, as a cron'd node would.
    await Promise.all(clients.map(async (client) => {
      for (let clientRound = round; clientRound < end; clientRound++) {
        await changeTree(client, FILES_PER_CLIENT + clientRound);
        await runBackup(client.config, { kind: BackupKind.BACKUP_KIND_COMPLETE });
      }
    }));
    round = end;
    catalogSizes.push(await catalogSize(sandbox.storeDirectory));
  }
  return { clients, catalogSizes, serverPeakBytes: peakRssOf(serverPid), elapsedMs: Date.now() - started };
}

async function assertLastBackupsRestore(sandbox: Sandbox, clients: readonly LoadClient[]): Promise<void> {
  for (const client of clients) {
    const target = join(sandbox.root, 'restored', client.name);
    const restore = await runRestore(client.config, { backupId: 0, to: target });
    assert.deepEqual(restore.failures, [], `${client.name}: restore failures`);
    assert.deepEqual(await compareTrees(client.data, join(target, client.data)), [], `${client.name}: restored tree differs`);
  }
}

const mebibytes = (bytes: number): string => `${(bytes / MEBIBYTE).toFixed(2)} MiB`;

function describeCatalog(t: { diagnostic(message: string): void }, sizes: readonly CatalogSize[]): void {
  t.diagnostic(`catalog used pages at 0, 1/3, 2/3, end: ${sizes.map((size) => mebibytes(size.usedBytes)).join(', ')}`);
  t.diagnostic(`catalog files (db + wal) at 0, 1/3, 2/3, end: ${sizes.map((size) => mebibytes(size.fileBytes)).join(', ')}`);
}

test(`${CLIENT_COUNT} clients x ${backupsPerClient} backups, all kept: no failure, last backups restore, RSS bounded, catalog grows linearly`, async (t) => {
  assert.ok(Number.isInteger(backupsPerClient) && backupsPerClient >= 3, 'CPSBACKUP_LOAD_BACKUPS must be an integer >= 3');
  const sandbox = await Sandbox.create({
    clients: Array.from({ length: CLIENT_COUNT }, (_, index) => `node${index + 1}`),
    serverLines: ['keep = 1000', `max_children = ${CLIENT_COUNT}`],
  });
  t.after(() => sandbox.destroy());
  const server = await sandbox.startServer();
  const load = await runLoad(sandbox, server.process.pid!);
  const total = CLIENT_COUNT * backupsPerClient;
  t.diagnostic(`${total} backups in ${load.elapsedMs} ms (${(load.elapsedMs / total).toFixed(1)} ms each), server peak RSS ${mebibytes(load.serverPeakBytes)}`);
  describeCatalog(t, load.catalogSizes);

  await assertLastBackupsRestore(sandbox, load.clients);
  const list = await sandbox.runClient(['-c', join(sandbox.root, 'node1.conf'), '-l', '--json']);
  assert.equal(list.code, 0, list.stderr);
  assert.equal(JSON.parse(list.stdout).length, backupsPerClient, 'every backup of node1 is kept');

  assert.ok(load.serverPeakBytes < RSS_LIMIT_BYTES, `server peak RSS ${mebibytes(load.serverPeakBytes)}`);
  for (const measure of ['usedBytes', 'fileBytes'] as const) {
    const [start, firstThird, secondThird, end] = load.catalogSizes.map((size) => size[measure]);
    const firstGrowth = firstThird - start;
    const lastGrowth = end - secondThird;
    assert.ok(firstGrowth > 0, `${measure}: the catalog grew during the first third`);
    assert.ok(lastGrowth <= 2 * firstGrowth, `${measure}: last third grew ${mebibytes(lastGrowth)}, first third ${mebibytes(firstGrowth)}: not linear`);
  }
});

test(`${CLIENT_COUNT} clients x ${backupsPerClient} backups under keep=5: no failure, last backups restore, catalog stays bounded`, async (t) => {
  const sandbox = await Sandbox.create({
    clients: Array.from({ length: CLIENT_COUNT }, (_, index) => `node${index + 1}`),
    serverLines: ['keep = 5', `max_children = ${CLIENT_COUNT}`],
  });
  t.after(() => sandbox.destroy());
  const server = await sandbox.startServer();
  const load = await runLoad(sandbox, server.process.pid!);
  t.diagnostic(`${CLIENT_COUNT * backupsPerClient} backups in ${load.elapsedMs} ms, server peak RSS ${mebibytes(load.serverPeakBytes)}`);
  describeCatalog(t, load.catalogSizes);

  await assertLastBackupsRestore(sandbox, load.clients);
  const list = await sandbox.runClient(['-c', join(sandbox.root, 'node1.conf'), '-l', '--json']);
  assert.equal(list.code, 0, list.stderr);
  assert.equal(JSON.parse(list.stdout).length, Math.min(5, backupsPerClient), 'retention keeps 5 backups');

  assert.ok(load.serverPeakBytes < RSS_LIMIT_BYTES, `server peak RSS ${mebibytes(load.serverPeakBytes)}`);
  // Retention deletes as fast as backups arrive, so after the first third the catalog reuses its free pages.
  for (const measure of ['usedBytes', 'fileBytes'] as const) {
    const [, firstThird, , end] = load.catalogSizes.map((size) => size[measure]);
    assert.ok(end <= 2 * firstThird, `${measure}: catalog grew from ${mebibytes(firstThird)} to ${mebibytes(end)} under keep=5`);
  }
});
