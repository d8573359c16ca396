// A catalog put back from an older copy (a VM snapshot rolled back) stores no catalog snapshot while the bucket
// holds a newer one than it knows, in process on a folder that plays the bucket: the start says so loudly, naming
// the newer generation, and after several snapshots' worth of backups `recover` still installs the newer catalog
// with its backups; `accept-catalog` (acceptOlderCatalog) lets the old catalog store snapshots again, and a
// catalog that is not stale (a plain restart, a recovered one) is never fenced.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChunkStore, type BackupRecord, type StoreOptions } from '../src/chunkstore/store';
import { LocalBackend } from '../src/chunkstore/backend/local-backend';
import type { PackBackend } from '../src/chunkstore/backend/pack-backend';
import { StoreKey } from '../src/chunkstore/crypto/store-key';
import { recoverCatalog } from '../src/chunkstore/snapshot/recover-catalog';
import { generationOf } from '../src/chunkstore/snapshot/snapshot-names';
import type { Logger } from '../src/common/logger';
import { backupFiles, bytesOf, readBackup, SMALL_CHUNKS } from './support/store-fixture';
import { FlakyBucket } from './support/flaky-bucket';

async function setUp(t: { after(fn: () => Promise<void>): void }) {
  const root = await mkdtemp(join(tmpdir(), 'cpsbackup-generation-fence-'));
  const folder = new LocalBackend(join(root, 'bucket'));
  const bucket = new FlakyBucket(folder);
  const key = new StoreKey(randomBytes(32), 'key file test.key');
  const errors: string[] = [];
  const logger: Logger = { info: () => undefined, warn: () => undefined, error: (message) => errors.push(message) };
  let current: ChunkStore | undefined;
  const close = async (): Promise<void> => {
    await current?.close();
    current = undefined;
  };
  t.after(async () => {
    await close();
    await folder.close();
    await rm(root, { recursive: true, force: true });
  });
  // A snapshot after every change: each backup below is a snapshot's worth of activity.
  const open = async (directory: string, options: Partial<StoreOptions> = {}): Promise<ChunkStore> => {
    await close(); // one store on the bucket at a time (its lease); close stores the last snapshot
    current = await ChunkStore.open(join(root, directory), {
      chunker: SMALL_CHUNKS, compressionLevel: 3, encoderThreads: 0, backend: bucket, encryptionKey: key, snapshotIntervalSeconds: 0, logger, ...options,
    });
    return current;
  };
  return { root, bucket, key, errors, open, close };
}

async function generations(bucket: PackBackend): Promise<number[]> {
  const found: number[] = [];
  for await (const blob of bucket.listBlobs()) {
    const generation = generationOf(blob.name);
    if (generation !== undefined) found.push(generation);
  }
  return found.sort((a, b) => a - b);
}

async function assertHolds(store: ChunkStore, backup: BackupRecord, files: Record<string, Buffer>): Promise<void> {
  const restored = await readBackup(store, backup);
  for (const [name, bytes] of Object.entries(files)) assert.ok(restored.get(name)?.equals(bytes), `backup ${backup.number}: ${name} byte for byte`);
}

// Regression: a store started on a stale catalog took the next generation numbers for its own snapshots and pruned the
// older ones, so after three snapshots `recover` installed the stale catalog and backup 2 was gone from every snapshot.
test('a catalog put back from an older copy stores no snapshot over a newer one: recover still finds the newer catalog', async (t) => {
  const { root, bucket, key, errors, open, close } = await setUp(t);
  const catalogFile = join(root, 'server', 'catalog.db');
  let store = await open('server');
  await backupFiles(store, 'node1', { 'one.bin': await bytesOf('fence-one', 50_000) });
  await close();
  await copyFile(catalogFile, join(root, 'catalog-after-backup-1.db'));

  store = await open('server');
  assert.equal(store.snapshotFence, undefined, 'a plain restart is never fenced');
  const secondFiles = { 'two.bin': await bytesOf('fence-two', 80_000) };
  const second = await backupFiles(store, 'node1', secondFiles);
  await close();
  const newest = Math.max(...await generations(bucket));

  // The VM snapshot rolled back: the catalog of before backup 2.
  await copyFile(join(root, 'catalog-after-backup-1.db'), catalogFile);
  await Promise.all(['-wal', '-shm'].map((suffix) => rm(`${catalogFile}${suffix}`, { force: true })));
  store = await open('server');
  assert.equal(store.snapshotFence?.newestGeneration, newest, 'the start finds the newer generation');
  assert.ok(errors.some((line) => line.includes(`generation ${newest}`) && line.includes('recover') && line.includes('accept-catalog')),
    `said loudly, naming generation ${newest} and both ways out: ${errors.join(' | ')}`);
  // Several snapshots' worth: backups, and restarts (each start and stop asks for one).
  for (let round = 0; round < 4; round++) {
    store = await open('server');
    await backupFiles(store, 'node1', { [`later-${round}.bin`]: await bytesOf(`fence-later-${round}`, 30_000) });
  }
  await close();
  assert.equal(Math.max(...await generations(bucket)), newest, 'no snapshot of the stale catalog was stored');

  const recovered = await recoverCatalog(join(root, 'recovered'), bucket, key);
  assert.equal(recovered.generation, newest, 'recover installs the newer catalog');
  store = await open('recovered');
  assert.equal(store.snapshotFence, undefined, 'a recovered catalog is not fenced');
  await assertHolds(store, second, secondFiles);
  await close();
});

test('accept-catalog keeps the older catalog: its snapshots are stored again, after the newer ones', async (t) => {
  const { root, bucket, open, close } = await setUp(t);
  const catalogFile = join(root, 'server', 'catalog.db');
  let store = await open('server');
  const firstFiles = { 'one.bin': await bytesOf('accept-one', 50_000) };
  const first = await backupFiles(store, 'node1', firstFiles);
  await close();
  await copyFile(catalogFile, join(root, 'catalog-after-backup-1.db'));
  store = await open('server');
  await backupFiles(store, 'node1', { 'two.bin': await bytesOf('accept-two', 80_000) });
  await close();
  const newest = Math.max(...await generations(bucket));
  await copyFile(join(root, 'catalog-after-backup-1.db'), catalogFile);
  await Promise.all(['-wal', '-shm'].map((suffix) => rm(`${catalogFile}${suffix}`, { force: true })));

  store = await open('server', { acceptOlderCatalog: true });
  assert.equal(store.snapshotFence, undefined, 'accepted');
  await close();
  assert.ok(Math.max(...await generations(bucket)) > newest, 'its snapshot came after the newer ones');
  store = await open('server');
  assert.equal(store.snapshotFence, undefined, 'accepted once, for good');
  await assertHolds(store, first, firstFiles);
  await close();
});

// Review of the fence: a copy of the catalog taken while a pack was being put (a VM or LVM snapshot mid-backup)
// holds that pack's intent, and its next start deleted the pack as its own crash's leftover although the newer
// catalog named it; `gc --delete-unknown-packs` on a fenced store deleted the newer catalog's packs outright.
test('a fenced catalog copied mid-backup deletes none of the newer catalog\'s packs, and refuses --delete-unknown-packs', async (t) => {
  const { root, bucket, key, open, close } = await setUp(t);
  const catalogFile = join(root, 'server', 'catalog.db');
  const staleFile = join(root, 'catalog-mid-backup-2.db');
  let store = await open('server');
  await backupFiles(store, 'node1', { 'one.bin': await bytesOf('mid-one', 50_000) });
  await close();

  store = await open('server');
  const putPack = bucket.putPack.bind(bucket);
  let isCopied = false;
  bucket.putPack = async (name: string, stagedFile: string): Promise<void> => {
    if (!isCopied) {
      isCopied = true;
      await copyFile(catalogFile, staleFile);
      await copyFile(`${catalogFile}-wal`, `${staleFile}-wal`).catch(() => undefined);
    }
    return putPack(name, stagedFile);
  };
  const secondFiles = { 'two.bin': await bytesOf('mid-two', 80_000) };
  const second = await backupFiles(store, 'node1', secondFiles);
  await close();
  bucket.putPack = putPack;
  assert.ok(isCopied, 'the copy was taken during a pack put');

  await Promise.all(['-wal', '-shm'].map((suffix) => rm(`${catalogFile}${suffix}`, { force: true })));
  await copyFile(staleFile, catalogFile);
  await copyFile(`${staleFile}-wal`, `${catalogFile}-wal`).catch(() => undefined);
  await assert.rejects(open('server', { deleteUnknownPacks: true }), /--delete-unknown-packs refused: .* is older than its bucket/);
  store = await open('server');
  assert.ok(store.snapshotFence !== undefined, 'fenced');
  assert.equal(store.recovery.removedOrphanPacks, 0, 'no pack taken for this catalog\'s crash leftover');
  await close();

  // accept-catalog whose snapshot fails: the operator may still choose recover, so nothing of the newer catalog goes.
  bucket.beforeSnapshotPut = () => Promise.reject(new Error('the bucket refuses the snapshot'));
  store = await open('server', { acceptOlderCatalog: true });
  assert.equal(store.recovery.removedOrphanPacks, 0, 'no pack deleted by an accept-catalog that has not stored its snapshot');
  await close();
  bucket.beforeSnapshotPut = undefined;

  const recovered = await recoverCatalog(join(root, 'recovered'), bucket, key);
  assert.deepEqual(recovered.missingPacks, [], 'every pack the newer catalog names is still there');
  store = await open('recovered');
  await assertHolds(store, second, secondFiles);
  await close();
});
