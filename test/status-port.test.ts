// Proves the status port on the real server process: /status and /metrics while a backup runs
// (a FIFO fed by the test with read_all_fifos) and after, figures checked against `-l --json`,
// du and the catalog; access rules (token, loopback Host); `cpsbackup-server status`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { request as secureRequest } from 'node:https';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Sandbox, type CommandResult } from './support/sandbox';
import type { StatusReport } from '../src/server/status/status-report';

interface Listed {
  id: number;
  startedAt: string;
  finishedAt: string;
  files: number;
  logicalBytes: number;
  newBytes: number;
  storedBytes: number;
}

const token = 'status-token-for-tests-0123456789';

function exited(result: CommandResult, code: number, what: string): CommandResult {
  assert.equal(result.code, code, `${what} exited ${result.code ?? result.signal}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  return result;
}

function statusUrlOf(log: string): string {
  const match = /cpsbackup-server status on (http:\/\/\S+)/.exec(log);
  assert.ok(match, `no status line in the server output:\n${log}`);
  return match[1];
}

async function getJson<T>(url: string, headers: Record<string, string> = {}): Promise<T> {
  const response = await fetch(url, { headers });
  assert.equal(response.status, 200, `${url}: HTTP ${response.status} ${await response.clone().text()}`);
  return (await response.json()) as T;
}

/** Prometheus text → "name{labels}" → value. */
function parseMetrics(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return values;
}

/** A raw request, because fetch() will not send a chosen Host header. */
function statusCodeWithHost(url: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const target = new URL('/status', url);
    const call = request({ host: target.hostname, port: target.port, path: target.pathname, headers: { host } }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    call.on('error', reject);
    call.end();
  });
}

function secureStatusCode(url: string, ca: Buffer, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const call = secureRequest(url, { ca, headers, servername: 'localhost' }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    call.on('error', reject);
    call.end();
  });
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, onMiss: () => void = () => undefined): Promise<T> {
  for (let attempt = 0; attempt < 600; attempt++) {
    const value = await probe();
    if (value !== undefined) return value;
    onMiss();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`gave up waiting for ${what}`);
}

test('status and metrics during and after real backups match -l --json, du and the catalog', async (t) => {
  // Figures measured per request: they are compared with du and the catalog right after each backup.
  const sandbox = await Sandbox.create({ clients: ['node1', 'idle'], serverLines: ['status_figures_max_age = 0'] });
  t.after(() => sandbox.destroy());
  const data = join(sandbox.root, 'data');
  await mkdir(data);
  await writeFile(join(data, 'notes.txt'), 'status port test\n');
  await writeFile(join(data, 'random.bin'), randomBytes(3 * 1024 * 1024));
  // Enough files that the two added later stay within anomaly_share of the median.
  for (let index = 0; index < 8; index++) await writeFile(join(data, `small-${index}.txt`), `small file ${index}\n`);
  const server = await sandbox.startServer();
  const url = statusUrlOf(server.log());
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`, 'read_all_fifos = 1']);
  const cli = (...args: string[]) => sandbox.runClient(['-c', config, ...args]);

  const empty = await getJson<StatusReport>(`${url}/status`);
  assert.deepEqual(empty.clients.map((client) => [client.name, client.state, client.backupsKept]), [['idle', 'never', 0], ['node1', 'never', 0]]);
  assert.equal(empty.store.backups, 0);
  assert.equal(empty.version, '0.1.0');

  exited(await cli('-e'), 0, 'first -e');
  await writeFile(join(data, 'more.txt'), 'a second file\n');
  exited(await cli('-e'), 0, 'second -e');

  // A FIFO the test feeds keeps the third backup running for as long as the test wants.
  const fifo = join(data, 'stream.fifo');
  execFileSync('mkfifo', [fifo]);
  const writer = spawn('sh', ['-c', 'exec cat > "$0"', fifo], { stdio: ['pipe', 'ignore', 'inherit'] });
  t.after(() => { if (writer.exitCode === null) writer.kill('SIGKILL'); });
  const running = cli('-e');
  let fed = 0;
  const feed = (): void => {
    if (fed < 64 * 1024 * 1024 && writer.stdin.writableLength === 0) {
      writer.stdin.write(randomBytes(256 * 1024));
      fed += 256 * 1024;
    }
  };
  feed();
  const during = await until('a running backup with bytes in /status', async () => {
    const report = await getJson<StatusReport>(`${url}/status`);
    const node1 = report.clients.find((client) => client.name === 'node1')!;
    return node1.running !== null && node1.running.bytes > 0 ? report : undefined;
  }, feed);
  const live = during.clients.find((client) => client.name === 'node1')!;
  assert.equal(live.state, 'running');
  assert.equal(live.running!.id, 3);
  assert.ok(live.running!.rateBytesPerSecond >= 0);
  assert.equal(live.lastSuccess!.id, 2, 'the last success stays visible while the next runs');
  const liveMetrics = parseMetrics(await (await fetch(`${url}/metrics`)).text());
  assert.equal(liveMetrics.get('cpsbackup_client_running{client="node1"}'), 1);
  assert.equal(liveMetrics.get('cpsbackup_client_state{client="node1",state="running"}'), 1);
  assert.ok(liveMetrics.get('cpsbackup_client_running_bytes{client="node1"}')! > 0);
  assert.equal(liveMetrics.get('cpsbackup_client_running{client="idle"}'), 0);
  const runningText = exited(await sandbox.runServerCommand(['status', '--url', url]), 0, 'status while running').stdout;
  assert.match(runningText, /^node1 +running /m);
  assert.match(runningText, /^ {2}running: \d+ files, /m);
  writer.stdin.end();
  exited(await running, 0, 'third -e (FIFO)');

  const list = JSON.parse(exited(await cli('-l', '--json'), 0, '-l --json').stdout) as Listed[];
  assert.deepEqual(list.map((backup) => backup.id), [1, 2, 3]);
  const last = list[2];
  const after = await getJson<StatusReport>(`${url}/status`);
  const node1 = after.clients.find((client) => client.name === 'node1')!;
  assert.equal(node1.state, 'ok');
  assert.equal(node1.running, null);
  assert.equal(node1.backupsKept, 3);
  assert.equal(node1.lastFailure, null);
  assert.equal(node1.anomaly?.isAnomalous, false);
  assert.deepEqual(
    { id: node1.lastSuccess!.id, startedAt: node1.lastSuccess!.startedAt, finishedAt: node1.lastSuccess!.finishedAt, files: node1.lastSuccess!.files,
      logicalBytes: node1.lastSuccess!.bytes, newBytes: node1.lastSuccess!.newBytes, storedBytes: node1.lastSuccess!.storedBytes },
    { id: last.id, startedAt: last.startedAt, finishedAt: last.finishedAt, files: last.files,
      logicalBytes: last.logicalBytes, newBytes: last.newBytes, storedBytes: last.storedBytes });
  assert.ok(last.logicalBytes >= 3 * 1024 * 1024 + fed, 'the FIFO content is in the backup');
  assert.equal(node1.lastSuccess!.durationSeconds, (Date.parse(last.finishedAt) - Date.parse(last.startedAt)) / 1000);
  assert.ok(node1.lastSuccess!.ageSeconds >= 0);

  // Store figures: logical from the listed backups, unique and stored from the catalog, disk from du.
  const store = after.store;
  assert.equal(store.backups, 3);
  assert.equal(store.logicalBytes, list.reduce((sum, backup) => sum + backup.logicalBytes, 0));
  const catalog = new Database(join(sandbox.storeDirectory, 'catalog.db'), { readonly: true, fileMustExist: true });
  const chunks = catalog.prepare('SELECT COUNT(*) AS count, SUM(raw_size) AS raw, SUM(stored_size) AS stored FROM chunks').get() as { count: number; raw: number; stored: number };
  catalog.close();
  assert.deepEqual([store.chunks, store.uniqueBytes, store.storedBytes], [chunks.count, chunks.raw, chunks.stored]);
  assert.equal(store.dedupRatio, store.logicalBytes / chunks.raw);
  assert.equal(store.compressionRatio, chunks.raw / chunks.stored);
  assert.ok(store.dedupRatio > 1.5, `three backups of mostly the same data dedup well (${store.dedupRatio})`);
  const du = Number(execFileSync('du', ['-s', '-B1', sandbox.storeDirectory]).toString().split('\t')[0]);
  assert.equal(store.diskBytes, du);

  const metrics = parseMetrics(await (await fetch(`${url}/metrics`)).text());
  const expected: [string, number][] = [
    ['cpsbackup_store_logical_bytes', store.logicalBytes],
    ['cpsbackup_store_unique_bytes', chunks.raw],
    ['cpsbackup_store_stored_bytes', chunks.stored],
    ['cpsbackup_store_disk_bytes', du],
    ['cpsbackup_store_backups', 3],
    ['cpsbackup_client_backups_kept{client="node1"}', 3],
    ['cpsbackup_client_last_success_backup_id{client="node1"}', last.id],
    ['cpsbackup_client_last_success_files{client="node1"}', last.files],
    ['cpsbackup_client_last_success_bytes{client="node1"}', last.logicalBytes],
    ['cpsbackup_client_last_success_new_bytes{client="node1"}', last.newBytes],
    ['cpsbackup_client_last_success_timestamp_seconds{client="node1"}', Date.parse(last.finishedAt) / 1000],
    ['cpsbackup_client_state{client="node1",state="ok"}', 1],
    ['cpsbackup_client_state{client="idle",state="never"}', 1],
    ['cpsbackup_client_running{client="node1"}', 0],
    ['cpsbackup_client_backups_kept{client="idle"}', 0],
    ['cpsbackup_info{version="0.1.0"}', 1],
  ];
  for (const [name, value] of expected) assert.equal(metrics.get(name), value, name);
  assert.equal(metrics.get('cpsbackup_client_running_bytes{client="node1"}'), undefined, 'no running series after the backup');

  const history = await getJson<{ clients: { name: string; backups: { id: number; bytes: number; newBytes: number }[] }[] }>(`${url}/history`);
  assert.deepEqual(history.clients.map((client) => client.name), ['node1']);
  assert.deepEqual(history.clients[0].backups.map((backup) => [backup.id, backup.bytes, backup.newBytes]),
    list.map((backup) => [backup.id, backup.logicalBytes, backup.newBytes]));

  const summary = exited(await sandbox.runServerCommand(['status', '--url', url]), 0, 'cpsbackup-server status').stdout;
  assert.match(summary, /^cpsbackup-server 0\.1\.0, up /);
  assert.match(summary, /dedup \d+\.\d\dx/);
  assert.match(summary, new RegExp(`^node1 +ok +#3 .* ${last.files} +`, 'm'));
  assert.match(summary, /^idle +never +never/m);
  const json = JSON.parse(exited(await sandbox.runServerCommand(['status', '--url', url, '--json']), 0, 'status --json').stdout) as StatusReport;
  assert.equal(json.clients.length, 2);

  // Without a token only loopback Host names are answered (DNS rebinding).
  assert.equal(await statusCodeWithHost(url, 'evil.example:80'), 403);
  assert.equal(await statusCodeWithHost(url, `localhost:${new URL(url).port}`), 200);
  assert.equal((await fetch(`${url}/nothing`)).status, 404);
  assert.equal((await fetch(`${url}/status`, { method: 'POST' })).status, 405);
  const page = await fetch(`${url}/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type')!, /text\/html/);
  assert.match(await page.text(), /<svg|createElementNS/);
});

test('status_token: data needs the Bearer token, the page does not; status subcommand sends it', async (t) => {
  const sandbox = await Sandbox.create({ serverLines: [`status_token = ${token}`] });
  t.after(() => sandbox.destroy());
  const server = await sandbox.startServer();
  const url = statusUrlOf(server.log());
  for (const path of ['/status', '/history', '/metrics']) {
    const refused = await fetch(`${url}${path}`);
    assert.equal(refused.status, 401, path);
    assert.match(refused.headers.get('www-authenticate') ?? '', /^Bearer/);
    assert.equal((await fetch(`${url}${path}`, { headers: { authorization: 'Bearer wrong-token-wrong-token' } })).status, 401, path);
    assert.equal((await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } })).status, 200, path);
  }
  assert.equal((await fetch(`${url}/`)).status, 200, 'the page holds no data; it reads the token from #token=');
  const summary = exited(await sandbox.runServerCommand(['status', '--url', url]), 0, 'status with the configured token').stdout;
  assert.match(summary, /^node1 +never/m);
  await sandbox.rewriteServerConfig([]);
  const refused = await sandbox.runServerCommand(['status', '--url', url]);
  assert.equal(refused.code, 12, `without the token: auth exit code\n${refused.stderr}`);
  assert.match(refused.stderr, /HTTP 401/);
});

test('a non-loopback status address without allow_remote_status stops the server at start', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  const text = await readFile(sandbox.serverConfigFile, 'utf8');
  await writeFile(sandbox.serverConfigFile, text.replace('status_address = 127.0.0.1', 'status_address = 0.0.0.0'));
  await assert.rejects(sandbox.startServer(), /exited \(2\)[\s\S]*not a loopback address/);
});

test('allow_remote_status with a token and status_ssl binds every interface and still demands the token', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  const text = await readFile(sandbox.serverConfigFile, 'utf8');
  const remote = `${text.replace('status_address = 127.0.0.1', 'status_address = 0.0.0.0')}allow_remote_status = 1\nstatus_token = ${token}\n`;
  // Regression (security review): without status_ssl the token crossed the network in clear; the server now stops at start.
  await writeFile(sandbox.serverConfigFile, remote);
  await assert.rejects(sandbox.startServer(), /exited \(2\)[\s\S]*allow_remote_status = 1 requires status_ssl = 1/);
  await writeFile(sandbox.serverConfigFile, `${remote}status_ssl = 1\n`);
  const server = await sandbox.startServer();
  const match = /cpsbackup-server status on (https:\/\/0\.0\.0\.0:\d+)/.exec(server.log());
  assert.ok(match, `no https status line in the server output:\n${server.log()}`);
  // The server's certificate names localhost.
  const local = match[1].replace('0.0.0.0', 'localhost');
  const ca = await readFile(join(sandbox.sslDirectory, 'ca.pem'));
  assert.equal(await secureStatusCode(`${local}/status`, ca, {}), 401);
  assert.equal(await secureStatusCode(`${local}/status`, ca, { host: 'backup.example.com' }), 401, 'any Host name, but never without the token');
  assert.equal(await secureStatusCode(`${local}/metrics`, ca, { authorization: `Bearer ${token}` }), 200);
  const summary = exited(await sandbox.runServerCommand(['status', '--url', local]), 0, 'status with the token').stdout;
  assert.match(summary, /^node1 +never/m);
});
