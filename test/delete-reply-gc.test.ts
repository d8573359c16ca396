// The Delete reply does not wait for the garbage collection the deletion makes due: how long that
// takes depends on what other clients hold (issue 18). The collection still runs after the reply; one
// that fails is logged and retried at the next occasion, and a stopping server lets it finish first.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { EntryType, BackupClient, type UploadRequest } from '../src/proto/cpsbackup';
import { batchedEntry } from '../src/common/wire/batched-entry';
import { channelOptions, clientCredentials } from '../src/common/tls/credentials';
import type { ChunkStore } from '../src/chunkstore/store';
import { begin, commit, meta, sendUpload } from './support/hostile-client';
import { startInProcessServer, type InProcessServer } from './support/in-process-server';
import { readBackup } from './support/store-fixture';
import { startBackupServer } from '../src/server/backup-server';
import { loadServerConfig } from '../src/common/config/server-config';
import { createLogger } from '../src/common/logger';
import { isClean } from '../src/chunkstore/check';

/** A backup of one file (fresh random bytes unless given), sent as the client's one raw chunk; returns the bytes. */
async function backUpFresh(client: BackupClient, bytes: Buffer = randomBytes(40_000)): Promise<Buffer> {
  const hash = createHash('sha256').update(bytes).digest();
  const messages: UploadRequest[] = [begin,
    { message: { $case: 'chunks', value: { chunks: [{ hash, rawSize: bytes.length, codec: 0, payload: bytes }] } } },
    { message: { $case: 'batch', value: { entries: [batchedEntry(meta('/file.bin', EntryType.ENTRY_TYPE_FILE, { size: bytes.length }), { chunkHashes: hash })] } } },
    commit];
  const outcome = await sendUpload(client, messages);
  assert.equal(outcome.error, undefined, outcome.error?.details);
  return bytes;
}

function deleteBackup(client: BackupClient, backupId: number): Promise<number> {
  return new Promise((resolve, reject) => {
    client.delete({ backupId, clientName: '', force: true }, (error, response) => (error ? reject(error) : resolve(response.unreferencedBytes)));
  });
}

/** A server with node1's two backups and a crafted-upload client; stopped after the test. */
async function serverWithTwoBackups(t: TestContext): Promise<{ harness: InProcessServer; client: BackupClient; store: ChunkStore; first: Buffer }> {
  const harness = await startInProcessServer(['node1']);
  t.after(() => harness.stop());
  const config = await harness.nodeConfig('node1', []);
  const client = new BackupClient(`${config.server}:${config.port}`, clientCredentials(config), channelOptions(config));
  t.after(() => client.close());
  const first = await backUpFresh(client);
  await backUpFresh(client);
  return { harness, client, store: harness.server.context.store, first };
}

/** Replaces the store's collectGarbage: each run waits for `gate` (if given) and then runs, or fails with `failure`. */
function interceptCollections(t: TestContext, store: ChunkStore, options: { gate?: Promise<void>; failure?: Error }): { runs: number } {
  const original = store.collectGarbage.bind(store);
  const seen = { runs: 0 };
  store.collectGarbage = async (collectOptions) => {
    seen.runs++;
    await options.gate;
    if (options.failure !== undefined && seen.runs === 1) throw options.failure;
    return original(collectOptions);
  };
  t.after(() => { store.collectGarbage = original; });
  return seen;
}

async function within<T>(promise: Promise<T>, milliseconds: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: nothing within ${milliseconds} ms`)), milliseconds); })]);
  } finally {
    clearTimeout(timer);
  }
}

async function waitUntil(condition: () => boolean, what: string): Promise<void> {
  for (let attempt = 0; attempt < 200 && !condition(); attempt++) await sleep(50);
  assert.ok(condition(), what);
}

// Regression (issue 18): the reply came after the collection, whose time depends on how many chunks
// and packs it removes, which depends on whether other clients still hold the deleted backup's bytes.
test('the Delete reply arrives while the collection it makes due is held, and the collection runs after it', async (t) => {
  const { harness, client, store } = await serverWithTwoBackups(t);
  let release = (): void => undefined;
  const gate = new Promise<void>((resolve) => { release = resolve; });
  t.after(() => release());
  const collections = interceptCollections(t, store, { gate });

  const unreferenced = await within(deleteBackup(client, 1), 10_000, 'the Delete reply with GC held');
  assert.equal(unreferenced, 40_000);
  assert.ok(store.hasGarbage(), 'nothing collected yet: the reply did not wait for the collection');
  await waitUntil(() => collections.runs === 1, 'the collection was started after the reply');

  release();
  await harness.server.context.maintenance.idle();
  assert.equal(store.hasGarbage(), false, 'the collection ran to its end');
  assert.ok(harness.log.some((line) => / gc: 1 chunks, 1 packs deleted/.test(line)), harness.log.join('\n'));
});

test('a collection that fails after the Delete reply is logged, and the next commit collects the garbage', async (t) => {
  const { harness, client, store } = await serverWithTwoBackups(t);
  const collections = interceptCollections(t, store, { failure: new Error('disk full (test)') });

  assert.equal(await deleteBackup(client, 1), 40_000, 'the deletion is reported whatever its collection does');
  await harness.server.context.maintenance.idle();
  assert.ok(harness.log.some((line) => /gc after deleting backup 1 of node1 failed: disk full \(test\)/.test(line)), harness.log.join('\n'));
  assert.ok(store.hasGarbage(), 'the failed collection left the garbage');

  // Retention deletes nothing here (keep = 10): only the failure makes this commit's collection due.
  await backUpFresh(client);
  await waitUntil(() => collections.runs === 2 && !store.hasGarbage(), 'the next commit collected what the failed run left');
});

test('a server stopped right after a Delete reply lets the collection finish before the store closes', async (t) => {
  const { harness, client, store } = await serverWithTwoBackups(t);
  let release = (): void => undefined;
  const gate = new Promise<void>((resolve) => { release = resolve; });
  t.after(() => release());
  interceptCollections(t, store, { gate });

  await within(deleteBackup(client, 1), 10_000, 'the Delete reply with GC held');
  let isStopped = false;
  const stopped = harness.server.stop().then(() => { isStopped = true; });
  await sleep(200);
  assert.equal(isStopped, false, 'the stop waits for the held collection');
  release();
  await within(stopped, 10_000, 'the stop once the collection is released');
  assert.ok(harness.log.some((line) => / gc: 1 chunks, 1 packs deleted/.test(line)), harness.log.join('\n'));
  // A collection asked for once stopped is refused, not run on a closed store.
  await assert.rejects(harness.server.context.maintenance.collectGarbage(), /the server is stopping/);
});

test('a backup of the deleted bytes made while the Delete\'s collection is held stays intact once it has run', async (t) => {
  const { harness, client, store, first } = await serverWithTwoBackups(t);
  let release = (): void => undefined;
  const gate = new Promise<void>((resolve) => { release = resolve; });
  t.after(() => release());
  interceptCollections(t, store, { gate });

  await within(deleteBackup(client, 1), 10_000, 'the Delete reply with GC held');
  // The chunk has lost its last reference and waits for the sweep; the client, told it no longer holds it, sends it again.
  await backUpFresh(client, first);
  release();
  await harness.server.context.maintenance.idle();
  const again = store.listBackups('node1').at(-1)!;
  assert.deepEqual([...(await readBackup(store, again)).values()], [first]);
  assert.ok(isClean(await store.check({ readDataPercent: 100 })));
});

test('garbage a failed collection left is collected when the server next starts', async (t) => {
  const { harness, client, store } = await serverWithTwoBackups(t);
  interceptCollections(t, store, { failure: new Error('disk full (test)') });
  await deleteBackup(client, 1);
  await harness.server.context.maintenance.idle();
  assert.ok(store.hasGarbage(), 'the failed collection left the garbage');
  await harness.server.stop();

  const log: string[] = [];
  const restarted = await startBackupServer(loadServerConfig(harness.sandbox.serverConfigFile), createLogger('restarted', (line) => { log.push(line); }));
  try {
    await waitUntil(() => !restarted.context.store.hasGarbage(), 'the collection at start');
    await restarted.context.maintenance.idle();
    assert.ok(log.some((line) => / gc: 1 chunks, 1 packs deleted/.test(line)), log.join('\n'));
  } finally {
    await restarted.stop();
  }
});
