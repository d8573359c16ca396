// Regression: a restore's -r pattern and a --find glob were matched on the server's event loop. V8's
// linear-time engine still costs pattern length × path length per path (a 4 KiB pattern on a 4 KiB path:
// seconds; on a 64 KiB path: minutes), so one client's Restore or Find held every other client's call —
// here another client's backup — until it ended. Now patterns are matched in a worker of the call's own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox } from './support/sandbox';
import type { BackupClient, FindBatch, RestoreResponse } from '../src/proto/cpsbackup';
import { backupNow, waitUntil } from './support/fault-tools';
import { hostileClient } from './support/hostile-client';

/** Folders of 250-character names, nested to a path of about 3,800 bytes (under Linux's PATH_MAX), with files at the bottom. */
async function deepTree(root: string): Promise<void> {
  const deepest = join(root, ...Array.from({ length: 15 }, (_, level) => `${level}`.padEnd(250, 'a')));
  await mkdir(deepest, { recursive: true });
  for (let index = 0; index < 30; index++) await writeFile(join(deepest, `f${index}`), `file ${index}\n`);
}

/** Collects a stream until it ends or fails; `isRunning` says which. */
class WatchedCall {
  isRunning = true;
  error: grpc.ServiceError | undefined;
  private readonly firstMessage: Promise<void>;
  readonly ended: Promise<void>;

  constructor(readonly call: grpc.ClientReadableStream<unknown>) {
    let first: () => void = () => undefined;
    this.firstMessage = new Promise((resolve) => { first = resolve; });
    this.ended = new Promise((resolve) => {
      call.on('data', () => first());
      call.on('error', (error: grpc.ServiceError) => { this.error = error; this.isRunning = false; first(); resolve(); });
      call.on('end', () => { this.isRunning = false; first(); resolve(); });
    });
  }

  async started(): Promise<void> {
    await this.firstMessage;
  }

  async cancel(): Promise<void> {
    this.call.cancel();
    await this.ended;
  }
}

test('a costly restore pattern and find glob hold neither the server nor another client\'s backup', async (t) => {
  const sandbox = await Sandbox.create({ clients: ['node1', 'node2'] });
  t.after(() => sandbox.destroy());
  let client: BackupClient | undefined;
  t.after(() => client?.close());
  const hostileData = join(sandbox.root, 'data1');
  const honestData = join(sandbox.root, 'data2');
  await deepTree(hostileData);
  await mkdir(honestData);
  await writeFile(join(honestData, 'note.txt'), 'node2 backs up while node1 searches\n');
  const server = await sandbox.startServer();
  const hostileConfig = await sandbox.writeNodeConfig('node1', [`include = ${hostileData}`]);
  const honestConfig = await sandbox.writeNodeConfig('node2', [`include = ${honestData}`]);
  const hostileBackup = await backupNow(sandbox, hostileConfig, hostileData);
  client = hostileClient(hostileConfig);

  // No path holds '#': every path is read to its end, through every state of the pattern.
  const glob = `${'*a'.repeat(511)}#`;
  const regex = `${'.*a'.repeat(1365)}#`;
  assert.ok(glob.length <= 1024 && regex.length <= 4096, 'both patterns are within the limits');
  const find = new WatchedCall(client.find({ pattern: glob, clientName: '' }));
  const restore = new WatchedCall(client.restore({ backupId: hostileBackup.number, clientName: '', paths: [], pathRegex: regex, acceptsBatches: true, protocolVersion: 2, skipFifoContent: false, strip: 0 }));
  t.after(() => Promise.all([find.cancel(), restore.cancel()]));
  await restore.started(); // the backup's summary: the restore is past its checks and reading entries

  const honestBackup = await backupNow(sandbox, honestConfig, honestData);
  assert.ok(honestBackup.number >= 1);
  assert.ok(find.isRunning, `the find ended (${find.error?.details ?? 'with success'}) before node2's backup was done`);
  assert.ok(restore.isRunning, `the restore ended (${restore.error?.details ?? 'with success'}) before node2's backup was done`);

  // A third pattern call of node1's at once would take another core: refused, naming the limit.
  const third = new WatchedCall(client.find({ pattern: glob, clientName: '' }));
  await third.ended;
  assert.equal(third.error?.code, grpc.status.RESOURCE_EXHAUSTED, third.error?.details);
  assert.match(third.error?.details ?? '', /client "node1" already has 2 calls matching a pattern/);

  // Cancelled, the calls end, and the server answers the next call as before.
  await Promise.all([find.cancel(), restore.cancel()]);
  const listed = await sandbox.runClient(['-c', honestConfig, '-l']);
  assert.equal(listed.code, 0, listed.stderr);
  // A cancelled call is the client's choice: a warning, never an internal error with a stack.
  await waitUntil(() => /find: the --find pattern is no longer matched/.test(server.log()) && /restore by node1 .*: the restore pattern is no longer matched/.test(server.log()),
    'both cancellations in the server log', 10_000, () => server.log());
  assert.doesNotMatch(server.log(), /internal|\berror\b/i);
  const found: FindBatch[] = [];
  for await (const batch of client.find({ pattern: 'f7', clientName: '' })) found.push(batch as FindBatch);
  assert.equal(found.flatMap((batch) => batch.matches).length, 1, 'with its slots free, node1 finds again');
});

test('a restore pattern longer than 4096 characters is refused before the backup is read', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  const data = join(sandbox.root, 'data');
  await mkdir(data);
  await writeFile(join(data, 'a.txt'), 'a\n');
  await sandbox.startServer();
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
  const backup = await backupNow(sandbox, config, data);
  const client = hostileClient(config);
  t.after(() => client.close());
  const refused = new WatchedCall(client.restore({ backupId: backup.number, clientName: '', paths: [], pathRegex: 'a'.repeat(4097), acceptsBatches: true, protocolVersion: 2, skipFifoContent: false, strip: 0 }));
  await refused.ended;
  assert.equal(refused.error?.code, grpc.status.INVALID_ARGUMENT, refused.error?.details);
  assert.match(refused.error?.details ?? '', /4097 characters long, more than the 4096 allowed/);
  const allowed: RestoreResponse[] = [];
  for await (const message of client.restore({ backupId: backup.number, clientName: '', paths: [], pathRegex: 'a\\.txt$', acceptsBatches: true, protocolVersion: 2, skipFifoContent: false, strip: 0 })) {
    allowed.push(message as RestoreResponse);
  }
  assert.ok(allowed.length > 1, 'a short pattern still restores');
});
