// The store on a real Ceph RADOS Gateway bucket, encrypted at rest, through the real CLIs (issue 15):
// backup, list, restore, delete, gc and check against the bucket; nothing readable in the bucket; an
// object deleted behind the server's back named by check; the wrong key refused; `recover` rebuilding a
// lost server from the bucket alone; radosgw killed in the middle of a backup.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Sandbox, runNode, type CommandResult } from './support/sandbox';
import { cephSkipReason, startCeph, type CephCluster } from './support/ceph';
import { bucketKeys, deleteObject, downloadBucket, packKey } from './support/bucket-objects';
import { writeDeterministicFile } from './support/trees';
import { grepExitCode } from './support/grep';
import {
  assertCheckClean, assertRestoresExactly, backupNow, chunksOfFile, listedNumbers, runCheck, waitUntil, withCatalog, type KnownBackup,
} from './support/fault-tools';

const execFileAsync = promisify(execFile);
const skip = cephSkipReason();
const MEBIBYTE = 1024 * 1024;
const BUCKET = 'cpsbackup-e2e';
const SERVER_CLI = join(__dirname, '..', 'src', 'cli', 'cpsbackup-server.js');
const CANARY_NAME = 'CANARY-board-minutes-e2e.txt';
const CANARY_TEXT = 'CANARY-CONTENT the merger closes on friday; tell nobody\n';
const CHUNK_LINES = ['chunk_min_size = 16384', 'chunk_avg_size = 65536', 'chunk_max_size = 262144'];

function s3Lines(cluster: CephCluster, root: string, prefix: string, keyFile = join(root, 'store.key')): string[] {
  return [
    'storage = s3', `s3_endpoint = ${cluster.endpoint}`, `s3_bucket = ${BUCKET}`, `s3_prefix = ${prefix}`,
    `s3_credentials_file = ${cluster.credentialsFile}`, `encryption_key_file = ${keyFile}`, 'catalog_snapshot_interval = 0', ...CHUNK_LINES,
  ];
}

function statusUrlOf(server: { log(): string }): string {
  const match = /cpsbackup-server status on (\S+)/.exec(server.log());
  assert.ok(match, server.log());
  return match[1].replace(/\/$/, '');
}

/** The value of one Prometheus series (name and labels exactly as printed), or undefined. */
function metricValue(metrics: string, series: string): number | undefined {
  const line = metrics.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function initKey(sandbox: Sandbox, file: string): Promise<void> {
  const made = await sandbox.runServerCommand(['init-key', file]);
  assert.equal(made.code, 0, made.stdout + made.stderr);
}

describe('the store in a Ceph RGW bucket, through the real CLIs', { skip }, () => {
  let cluster: CephCluster;

  before(async () => {
    cluster = await startCeph();
  });
  after(async () => {
    await cluster?.stop();
  });

  test('backup, list, restore, delete, gc and check on the bucket; grep finds nothing; a lost object is named; the wrong key is refused', async () => {
    const sandbox = await Sandbox.create();
    const prefix = 'store/';
    try {
      const keyFile = join(sandbox.root, 'store.key');
      await initKey(sandbox, keyFile);
      assert.equal((await stat(keyFile)).mode & 0o777, 0o600);
      const again = await sandbox.runServerCommand(['init-key', keyFile]);
      assert.equal(again.code, 2, 'an existing key file is never overwritten');
      assert.match(again.stderr, /already exists here; it is never overwritten/);
      await sandbox.rewriteServerConfig(s3Lines(cluster, sandbox.root, prefix));

      const data = join(sandbox.root, 'data');
      await writeDeterministicFile(join(data, 'gone-later.bin'), 's3-gone', 3 * MEBIBYTE);
      await writeDeterministicFile(join(data, 'kept.bin'), 's3-kept', 2 * MEBIBYTE + 5);
      await writeFile(join(data, CANARY_NAME), CANARY_TEXT.repeat(50));
      const server = await sandbox.startServer();
      const configFile = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
      const first = await backupNow(sandbox, configFile, data);

      // Credentials stay out of the process list.
      const processes = await execFileAsync('ps', ['-eo', 'args'], { maxBuffer: 16 * MEBIBYTE });
      assert.equal(processes.stdout.includes(cluster.credentials.secretAccessKey), false, 'the secret key shows in ps');
      assert.equal(server.log().includes(cluster.credentials.secretAccessKey), false, 'the secret key shows in the log');

      // The bucket in /metrics, /status and `status`: objects, bytes, requests and latency per operation, snapshots.
      const statusUrl = statusUrlOf(server);
      // The commit does not wait for the catalog snapshot that follows it (it is uploaded after): wait for it to be in the bucket.
      await waitUntil(async () => (metricValue(await (await fetch(`${statusUrl}/metrics`)).text(), 'cpsbackup_catalog_snapshot_last_generation') ?? 0) >= 1,
        'the first catalog snapshot to reach the bucket', 30_000);
      const metrics = await (await fetch(`${statusUrl}/metrics`)).text();
      assert.ok(metricValue(metrics, 'cpsbackup_s3_objects')! >= 1, metrics);
      assert.ok(metricValue(metrics, 'cpsbackup_s3_bytes')! > 3 * MEBIBYTE, metrics);
      assert.ok(metricValue(metrics, 'cpsbackup_s3_requests{operation="put"}')! >= 2, metrics);
      assert.ok(metricValue(metrics, 'cpsbackup_s3_transfer_bytes{operation="put"}')! > 3 * MEBIBYTE, metrics);
      assert.equal(metricValue(metrics, 'cpsbackup_s3_request_errors{operation="put"}'), 0);
      assert.equal(metricValue(metrics, 'cpsbackup_s3_request_duration_seconds_bucket{le="+Inf",operation="put"}')
        ?? metricValue(metrics, 'cpsbackup_s3_request_duration_seconds_bucket{operation="put",le="+Inf"}'),
        metricValue(metrics, 'cpsbackup_s3_requests{operation="put"}'));
      assert.ok(metricValue(metrics, 'cpsbackup_catalog_snapshot_last_generation')! >= 1, metrics);
      const status = await (await fetch(`${statusUrl}/status`)).json() as {
        objectStore: { kind: string; objects: number; operations: Record<string, { requests: number }>; snapshots: { taken: number } };
      };
      assert.equal(status.objectStore.kind, 's3');
      assert.ok(status.objectStore.operations.get.requests >= 1, 'the store identity was read at open');
      assert.ok(status.objectStore.snapshots.taken >= 1);
      const shownStatus = await sandbox.runServerCommand(['status', '--url', statusUrl]);
      assert.equal(shownStatus.code, 0, shownStatus.stderr);
      assert.match(shownStatus.stdout, /s3 \(bucket hidden\): \d+ pack objects, [\d.]+ MiB; catalog snapshot \d+ at /);
      assert.match(shownStatus.stdout, /requests since start: .*put \d+ ~\d+ ms/);

      await rm(join(data, 'gone-later.bin'));
      const second = await backupNow(sandbox, configFile, data);
      assert.deepEqual(await listedNumbers(sandbox, configFile), [1, 2]);
      await assertRestoresExactly(sandbox, configFile, [first, second]);
      assert.equal(sandbox.runningServer!.log().includes(cluster.credentials.secretAccessKey), false);
      await sandbox.runningServer!.stop();

      // Everything in the bucket, fetched as someone holding the bucket alone: no name, no content.
      const dump = join(sandbox.root, 'bucket-dump');
      const objects = await downloadBucket(cluster, BUCKET, prefix, dump);
      assert.ok(objects >= 3, `packs, the store identity and a snapshot (${objects} objects)`);
      assert.ok((await readdir(join(dump, prefix, 'blobs'))).some((name) => name.startsWith('catalog-')), 'a catalog snapshot is in the bucket');
      await writeFile(join(sandbox.root, 'control'), CANARY_TEXT);
      assert.equal(await grepExitCode('CANARY', join(sandbox.root, 'control')), 0, 'the grep finds the canary in clear');
      assert.equal(await grepExitCode('CANARY', dump), 1, 'no file name or content in the bucket');
      assert.equal(await grepExitCode('board-minutes', dump), 1);
      assert.equal(await grepExitCode(data, dump), 1, 'no path in the bucket');

      // Delete backup 1: the packs holding only gone-later.bin leave the bucket once gc ran.
      const gonePacks = [...new Set(chunksOfFile(sandbox, first.number, join(data, 'gone-later.bin')).map((chunk) => chunk.packName))];
      await sandbox.startServer();
      await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
      const deleted = await sandbox.runClient(['-c', configFile, '-d', '1']);
      assert.equal(deleted.code, 0, deleted.stdout + deleted.stderr);
      assert.deepEqual(await listedNumbers(sandbox, configFile), [2]);
      await sandbox.runningServer!.stop();
      const collected = await sandbox.runServerCommand(['gc']);
      assert.equal(collected.code, 0, collected.stdout + collected.stderr);
      // gc may also compact the kept packs into new ones: the bucket then holds exactly the catalog's packs.
      const packKeys = (await bucketKeys(cluster, BUCKET, `${prefix}packs/`)).sort();
      const catalogPacks = withCatalog(sandbox, (database) => (database.prepare('SELECT name FROM packs').pluck().all() as string[]))
        .map((name) => packKey(prefix, name)).sort();
      assert.deepEqual(packKeys, catalogPacks, 'the bucket holds exactly the packs the catalog names');
      assert.ok(gonePacks.some((pack) => !packKeys.includes(packKey(prefix, pack))), 'a pack of the deleted backup left the bucket');
      await assertCheckClean(sandbox);
      // The snapshot in the bucket already knows what gc moved and deleted: a recover now misses no pack.
      await rename(sandbox.storeDirectory, `${sandbox.storeDirectory}.kept`);
      const recovered = await sandbox.runServerCommand(['recover']);
      assert.equal(recovered.code, 0, recovered.stdout + recovered.stderr);
      assert.doesNotMatch(recovered.stdout, /missing/);
      await rm(sandbox.storeDirectory, { recursive: true, force: true });
      await rename(`${sandbox.storeDirectory}.kept`, sandbox.storeDirectory);

      // An object deleted behind the server's back: check names the file it breaks.
      const lost = chunksOfFile(sandbox, second.number, join(data, 'kept.bin'))[0].packName;
      await deleteObject(cluster, BUCKET, packKey(prefix, lost));
      const found = await runCheck(sandbox, []);
      assert.equal(found.code, 1, found.stdout + found.stderr);
      assert.match(found.stdout, new RegExp(`problem: pack ${lost} is missing from s3://${BUCKET}/${prefix}`));
      assert.ok(found.stdout.includes(`affected file: client node1 backup 0000002 ${join(data, 'kept.bin')}`), found.stdout);

      // The wrong key: one clear line, exit 12, nothing read.
      const otherKey = join(sandbox.root, 'other.key');
      await initKey(sandbox, otherKey);
      await sandbox.rewriteServerConfig(s3Lines(cluster, sandbox.root, prefix, otherKey));
      const refused = await runCheck(sandbox, []);
      assert.equal(refused.code, 12, refused.stdout + refused.stderr);
      assert.match(refused.stderr, /was encrypted with key [0-9a-f]{16}, but key file .*other\.key holds key [0-9a-f]{16}: wrong encryption_key_file/);
      assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr);
    } finally {
      await sandbox.destroy();
    }
  });

  test('recover: three clients backed up, the store folder deleted, recover from the bucket, every backup restores byte for byte', async () => {
    const clients = ['alpha', 'beta', 'gamma'];
    const sandbox = await Sandbox.create({ clients });
    const prefix = 'recover/';
    try {
      await initKey(sandbox, join(sandbox.root, 'store.key'));
      await sandbox.rewriteServerConfig(s3Lines(cluster, sandbox.root, prefix));
      await sandbox.startServer();
      const backups = new Map<string, Awaited<ReturnType<typeof backupNow>>[]>();
      const configs = new Map<string, string>();
      for (const [index, client] of clients.entries()) {
        const data = join(sandbox.root, `data-${client}`);
        await writeDeterministicFile(join(data, 'shared.bin'), 'shared-between-clients', MEBIBYTE);
        await writeDeterministicFile(join(data, `${client}.bin`), client, MEBIBYTE * (index + 1) + index);
        const config = await sandbox.writeNodeConfig(client, [`include = ${data}`]);
        configs.set(client, config);
        const done = [await backupNow(sandbox, config, data)];
        await writeFile(join(data, 'later.txt'), `${client} changed later\n`);
        done.push(await backupNow(sandbox, config, data));
        backups.set(client, done);
      }
      await sandbox.runningServer!.stop();

      // The server's disk is lost: only the bucket, the key file and server.conf are left.
      await rm(sandbox.storeDirectory, { recursive: true, force: true });
      const recovered = await sandbox.runServerCommand(['recover']);
      assert.equal(recovered.code, 0, recovered.stdout + recovered.stderr);
      assert.match(recovered.stdout, /recovered the catalog from snapshot generation \d+ in s3:\/\/cpsbackup-e2e\/recover\/: 3 clients, 6 backups, \d+ packs/);
      const twice = await sandbox.runServerCommand(['recover']);
      assert.equal(twice.code, 2, 'recover never replaces a catalog');

      await sandbox.startServer();
      for (const client of clients) {
        const config = await sandbox.writeNodeConfig(client, [`include = ${join(sandbox.root, `data-${client}`)}`]);
        assert.equal(config, configs.get(client));
        assert.deepEqual(await listedNumbers(sandbox, config), [1, 2]);
        await assertRestoresExactly(sandbox, config, backups.get(client)!);
      }
      await sandbox.runningServer!.stop();
      await assertCheckClean(sandbox);

      // A pack gone from the bucket too: recover names it and exits 3.
      const lost = chunksOfFile(sandbox, 1, join(sandbox.root, 'data-alpha', 'alpha.bin'))[0].packName;
      await rm(sandbox.storeDirectory, { recursive: true, force: true });
      await deleteObject(cluster, BUCKET, packKey(prefix, lost));
      const partial = await sandbox.runServerCommand(['recover']);
      assert.equal(partial.code, 3, partial.stdout + partial.stderr);
      assert.ok(partial.stdout.includes(`missing: pack ${lost} is referenced by the catalog but not in the bucket`), partial.stdout);
    } finally {
      await sandbox.destroy();
    }
  });

  test('one server per bucket: a recover drill beside the live server is warned, its server refused, and nothing of the live one deleted', async () => {
    const sandbox = await Sandbox.create();
    const prefix = 'lease/';
    try {
      await initKey(sandbox, join(sandbox.root, 'store.key'));
      await sandbox.rewriteServerConfig(s3Lines(cluster, sandbox.root, prefix));
      const data = join(sandbox.root, 'data');
      await writeDeterministicFile(join(data, 'first.bin'), 'lease-first', MEBIBYTE);
      const live = await sandbox.startServer();
      const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
      await backupNow(sandbox, config, data);

      // The drill: a second store folder on another machine, same server.conf but for its folder.
      const drillFolder = join(sandbox.root, 'drill-store');
      const drillConfig = join(sandbox.root, 'drill.conf');
      const liveLines = (await readFile(sandbox.serverConfigFile, 'utf8')).split('\n');
      await writeFile(drillConfig, liveLines.map((line) => (line.startsWith('directory = ') ? `directory = ${drillFolder}` : line)).join('\n'));
      const drill = (args: string[]): Promise<CommandResult> => runNode(SERVER_CLI, ['-c', drillConfig, ...args], 60_000);
      const holder = `pid ${live.process.pid}, store folder ${sandbox.storeDirectory}`;
      const liveStatus = statusUrlOf(live);
      assert.equal(metricValue(await (await fetch(`${liveStatus}/metrics`)).text(), 'cpsbackup_s3_lease_held'), 1);
      const recovered = await drill(['recover']);
      assert.equal(recovered.code, 0, recovered.stdout + recovered.stderr);
      assert.match(recovered.stdout, /warning: s3:\/\/cpsbackup-e2e\/lease\/ is in use by another cpsbackup server \(host /);
      assert.ok(recovered.stdout.includes(holder), recovered.stdout);
      assert.match(recovered.stdout, /this catalog opens only once that server stopped/);

      // The live server goes on: these packs are newer than the drill's catalog, orphans to it.
      await writeDeterministicFile(join(data, 'second.bin'), 'lease-second', MEBIBYTE);
      await backupNow(sandbox, config, data);
      const packsBefore = await bucketKeys(cluster, BUCKET, `${prefix}packs/`);
      const blobsBefore = (await bucketKeys(cluster, BUCKET, `${prefix}blobs/`)).filter((key) => !key.includes('/lease-'));
      for (const args of [['check'], ['gc'], []]) {
        const refused = await drill(args);
        assert.equal(refused.code, 1, `${args.join(' ') || 'the drill server'}: ${refused.stdout}${refused.stderr}`);
        assert.match(refused.stderr, /is in use by another cpsbackup server/);
        assert.ok(refused.stderr.includes(holder), refused.stderr);
      }
      assert.deepEqual(await bucketKeys(cluster, BUCKET, `${prefix}packs/`), packsBefore, 'the drill deleted none of the live server\'s packs');
      // The live server snapshots its catalog after each commit, in the background: under load the second
      // backup's snapshot may land while the drill runs. Nothing may go; only a live snapshot may come.
      const blobsAfter = (await bucketKeys(cluster, BUCKET, `${prefix}blobs/`)).filter((key) => !key.includes('/lease-'));
      assert.deepEqual(blobsBefore.filter((key) => !blobsAfter.includes(key)), [], 'nor any of its catalog snapshots');
      assert.deepEqual(blobsAfter.filter((key) => !blobsBefore.includes(key) && !/\/catalog-\d+\.snapshot$/.test(key)), [],
        'nothing but the live server\'s catalog snapshots appeared');

      const leaseKeys = async (): Promise<string[]> => (await bucketKeys(cluster, BUCKET, `${prefix}blobs/`)).filter((key) => key.includes('/lease-'));
      // Killed, the live server leaves its lease; its own folder takes it back at once.
      await live.stop('SIGKILL');
      assert.equal((await leaseKeys()).length, 1);
      const restarted = await sandbox.startServer();
      assert.deepEqual(await listedNumbers(sandbox, await sandbox.writeNodeConfig('node1', [`include = ${data}`])), [1, 2]);
      // Stopped, it releases the lease.
      await restarted.stop();
      assert.deepEqual(await leaseKeys(), []);

      // The live machine lost for good while holding the lease: break-lease, run where the server will go on, frees the bucket now.
      const lost = await sandbox.startServer();
      await lost.stop('SIGKILL');
      assert.equal((await drill(['check'])).code, 1);
      const broken = await drill(['break-lease']);
      assert.equal(broken.code, 0, broken.stdout + broken.stderr);
      assert.ok(broken.stdout.includes(`removed the lease of host `) && broken.stdout.includes(`pid ${lost.process.pid}, store folder ${sandbox.storeDirectory}`), broken.stdout);
      assert.deepEqual(await leaseKeys(), []);
      const again = await drill(['break-lease']);
      assert.match(again.stdout, /no other server holds a lease on s3:\/\/cpsbackup-e2e\/lease\//);
    } finally {
      await sandbox.destroy();
    }
  });

  test('a new catalog over a bucket that holds a store is refused (recover instead), and so is recover with the wrong key', async () => {
    const sandbox = await Sandbox.create();
    const prefix = 'guard/';
    try {
      await initKey(sandbox, join(sandbox.root, 'store.key'));
      await sandbox.rewriteServerConfig(s3Lines(cluster, sandbox.root, prefix));
      const data = join(sandbox.root, 'data');
      await mkdir(data, { recursive: true });
      await writeFile(join(data, 'note.txt'), 'note\n');
      await sandbox.startServer();
      const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
      await backupNow(sandbox, config, data);
      await sandbox.runningServer!.stop();
      const before = await bucketKeys(cluster, BUCKET, prefix);

      await rm(sandbox.storeDirectory, { recursive: true, force: true });
      // An offline command makes no store (no catalog.db here): refused before the bucket is asked (1a1242e).
      const unmade = await runCheck(sandbox, []);
      assert.equal(unmade.code, 1, unmade.stdout + unmade.stderr);
      assert.match(unmade.stdout + unmade.stderr, /no store in /);
      // The server's first start would make one: it finds the bucket's store and refuses.
      const refused = await sandbox.runServerCommand([]);
      assert.equal(refused.code, 2, refused.stdout + refused.stderr);
      assert.match(refused.stderr, /already holds a cpsbackup store .* run `cpsbackup-server recover`/);
      assert.deepEqual(await bucketKeys(cluster, BUCKET, prefix), before, 'nothing in the bucket was touched');

      await rm(sandbox.storeDirectory, { recursive: true, force: true });
      const otherKey = join(sandbox.root, 'other.key');
      await initKey(sandbox, otherKey);
      await sandbox.rewriteServerConfig(s3Lines(cluster, sandbox.root, prefix, otherKey));
      const wrong = await sandbox.runServerCommand(['recover']);
      assert.equal(wrong.code, 12, wrong.stdout + wrong.stderr);
      assert.match(wrong.stderr, /wrong encryption_key_file/);
      assert.equal((await readFile(join(sandbox.storeDirectory, 'catalog.db')).catch(() => undefined)), undefined, 'no catalog installed');
    } finally {
      await sandbox.destroy();
    }
  });

  test('a file only another client holds goes up to the bucket as new bytes would and is deleted there: one copy kept', async () => {
    const sandbox = await Sandbox.create({ clients: ['node1', 'node2'] });
    const prefix = 'cover/';
    try {
      await initKey(sandbox, join(sandbox.root, 'store.key'));
      await sandbox.rewriteServerConfig(s3Lines(cluster, sandbox.root, prefix));
      const server = await sandbox.startServer();
      const statusUrl = statusUrlOf(server);
      const metric = async (series: string): Promise<number> => metricValue(await (await fetch(`${statusUrl}/metrics`)).text(), series) ?? 0;
      // Packs go up by one PUT or by parts, depending on their size; catalog snapshots (a few KB) count too.
      const uploaded = async (): Promise<number> => await metric('cpsbackup_s3_transfer_bytes{operation="put"}')
        + await metric('cpsbackup_s3_transfer_bytes{operation="upload-part"}');
      const backups: { config: string; backup: KnownBackup }[] = [];
      const sent: number[] = [];
      for (const client of ['node1', 'node2']) {
        const data = join(sandbox.root, `data-${client}`);
        await writeDeterministicFile(join(data, 'same.bin'), 'shared by both nodes', 6 * MEBIBYTE);
        const config = await sandbox.writeNodeConfig(client, [`include = ${data}`]);
        const before = await uploaded();
        backups.push({ config, backup: await backupNow(sandbox, config, data) });
        await waitUntil(async () => (await metric('cpsbackup_catalog_snapshot_last_generation')) >= backups.length, 'the catalog snapshot after the backup', 30_000);
        sent.push(await uploaded() - before);
      }
      process.stdout.write(`# uploaded to the bucket: ${sent[0]} bytes for node1's file, ${sent[1]} for node2's copy of it\n`);
      assert.ok(sent[0] > 6 * MEBIBYTE, `node1's backup uploaded ${sent[0]} bytes`);
      assert.ok(Math.abs(sent[1] - sent[0]) < MEBIBYTE / 2, `node2's copy uploaded ${sent[1]} bytes, node1's file ${sent[0]}`);
      // Deleted in the background once stored (CoverDeletions): soon, not necessarily before the snapshot (a full run under load missed it).
      await waitUntil(async () => await metric('cpsbackup_s3_requests{operation="delete"}') >= 1, 'the cover pack deleted', 30_000);
      const packs = await bucketKeys(cluster, BUCKET, `${prefix}packs/`);
      assert.deepEqual(packs.filter((key) => key.includes('.cover')), [], packs.join('\n'));
      for (const { config, backup } of backups) await assertRestoresExactly(sandbox, config, [backup]);
      await sandbox.runningServer!.stop();
      await assertCheckClean(sandbox);
    } finally {
      await sandbox.destroy();
    }
  });

  test('radosgw killed in the middle of a backup: the backup fails clearly, nothing new is listed, the next backup works', async () => {
    const sandbox = await Sandbox.create();
    const prefix = 'faults/';
    try {
      await initKey(sandbox, join(sandbox.root, 'store.key'));
      await sandbox.rewriteServerConfig(s3Lines(cluster, sandbox.root, prefix));
      const data = join(sandbox.root, 'data');
      await writeDeterministicFile(join(data, 'small.bin'), 'fault-small', MEBIBYTE);
      await sandbox.startServer();
      const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
      const first = await backupNow(sandbox, config, data);

      // 96 MiB: the first pack (64 MiB) goes up while the client still sends.
      await writeDeterministicFile(join(data, 'big.bin'), 'fault-big', 96 * MEBIBYTE);
      const client = spawn(process.execPath, [join(__dirname, '..', 'src', 'cli', 'cpsbackup.js'), '-c', config, '-e'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      client.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
      client.stderr.on('data', (chunk: Buffer) => { output += chunk.toString(); });
      const exited = new Promise<number | null>((resolve) => client.on('close', (code) => resolve(code)));
      const staging = join(sandbox.storeDirectory, 'staging');
      await waitUntil(async () => {
        let bytes = 0;
        for (const name of await readdir(staging).catch(() => [] as string[])) bytes += await stat(join(staging, name)).then((info) => info.size, () => 0);
        return bytes >= 4 * MEBIBYTE;
      }, 'the backup to stage pack data');
      await cluster.killGateway();
      const code = await exited;
      process.stdout.write(`# the client said, with radosgw gone: ${output.trim().split('\n').join(' | ')}\n`);
      assert.notEqual(code, 0, `the backup succeeded without its bucket: ${output}`);
      assert.match(output, /the server's object store failed \(put\); the backup or restore was not done/, output);
      assert.doesNotMatch(output, new RegExp(`${BUCKET}|${cluster.endpoint}`), 'the bucket and the endpoint stay on the server');
      assert.match(sandbox.runningServer!.log(), new RegExp(`s3 put s3://${BUCKET}/${prefix}packs/.*no answer from ${cluster.endpoint}`));
      assert.doesNotMatch(output, /\n\s+at /, 'no stack trace for the user');

      await cluster.startGateway();
      assert.deepEqual(await listedNumbers(sandbox, config), [first.number], 'the failed backup is not listed');
      const metrics = await (await fetch(`${statusUrlOf(sandbox.runningServer!)}/metrics`)).text();
      assert.ok(metricValue(metrics, 'cpsbackup_s3_request_errors{operation="put"}')! >= 1, metrics);
      assert.ok(metricValue(metrics, 'cpsbackup_s3_request_retries{operation="put"}')! >= 1, metrics);
      const next = await backupNow(sandbox, config, data);
      await assertRestoresExactly(sandbox, config, [first, next]);
      await sandbox.runningServer!.stop();
      await assertCheckClean(sandbox);
    } finally {
      if (cluster.gatewayPid() === undefined) await cluster.startGateway().catch(() => undefined);
      await sandbox.destroy();
    }
  });
});
