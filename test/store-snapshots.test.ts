// A store whose packs leave the server, in process on a folder that plays the bucket: the catalog
// snapshots in the bucket follow the store across restarts. A pack GC doomed leaves the bucket only
// after a snapshot that no longer names it is stored (at start-up too), and changes whose snapshot never
// reached the bucket are snapshotted by the next start, so `recover` finds every committed backup. A failed
// snapshot is asked for once per round of deletions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChunkStore, type StoreOptions } from '../src/chunkstore/store';
import { Catalog } from '../src/chunkstore/catalog/catalog';
import { DoomedPacks } from '../src/chunkstore/gc/doomed-packs';
import { ReaderLeases } from '../src/chunkstore/read/reader-leases';
import { LocalBackend } from '../src/chunkstore/backend/local-backend';
import type { PackBackend } from '../src/chunkstore/backend/pack-backend';
import { StoreKey } from '../src/chunkstore/crypto/store-key';
import { recoverCatalog } from '../src/chunkstore/snapshot/recover-catalog';
import { backupFiles, bytesOf, readBackup, SMALL_CHUNKS } from './support/store-fixture';
import { FlakyBucket } from './support/flaky-bucket';

async function setUp(t: { after(fn: () => Promise<void>): void }) {
  const root = await mkdtemp(join(tmpdir(), 'cpsbackup-store-snapshots-'));
  const folder = new LocalBackend(join(root, 'bucket'));
  t.after(async () => {
    await folder.close();
    await rm(root, { recursive: true, force: true });
  });
  const bucket = new FlakyBucket(folder);
  const key = new StoreKey(randomBytes(32), 'key file test.key');
  const open = (directory: string, snapshotIntervalSeconds: number, options: Partial<StoreOptions> = {}): Promise<ChunkStore> => ChunkStore.open(join(root, directory), {
    chunker: SMALL_CHUNKS, compressionLevel: 3, encoderThreads: 0, backend: bucket, encryptionKey: key, snapshotIntervalSeconds, ...options,
  });
  return { root, bucket, key, open };
}

async function packNames(bucket: PackBackend): Promise<string[]> {
  const names: string[] = [];
  for await (const pack of bucket.listPacks()) names.push(pack.name);
  return names.sort();
}

// Regression: start-up deleted the packs GC had doomed before any snapshot without them was stored (the
// snapshots did not exist yet while recovery ran). The bucket's newest snapshot then named a deleted pack
// and not the pack its chunks had moved to, which the recovered store's first open deleted as an orphan.
test('a pack GC compacted away stays in the bucket, across restarts, until a snapshot without it is stored; recover then restores', async (t) => {
  const { root, bucket, key, open } = await setUp(t);
  // A snapshot after every change: the bucket's newest names the pack about to be compacted, and only the second backup.
  let store = await open('server', 0);
  const kept = await bytesOf('snapshots-kept', 100_000);
  const first = await backupFiles(store, 'node1', { 'f1.bin': kept, 'f2.bin': await bytesOf('snapshots-gone', 400_000) });
  await backupFiles(store, 'node1', { 'f1.bin': kept });
  const [compacted, ...others] = await packNames(bucket);
  assert.deepEqual(others, [], 'the second backup stored nothing new');
  store.deleteBackups([first]);
  await store.close();

  // The bucket refuses snapshots from here on: gc compacts, and the snapshot before deleting fails, as does the one at close.
  bucket.isRefusingSnapshots = true;
  store = await open('server', 3600);
  const collected = await store.collectGarbage();
  assert.equal(collected.rewrittenPacks, 1, JSON.stringify(collected));
  assert.ok((await packNames(bucket)).includes(compacted), 'gc keeps the pack while no snapshot without it is stored');
  await store.close();
  // A restart (or gc, or check: they open the store the same way) while the bucket still refuses snapshots.
  store = await open('server', 3600);
  assert.ok((await packNames(bucket)).includes(compacted), 'a start-up that cannot store a snapshot keeps the doomed pack');
  await store.close();

  bucket.isRefusingSnapshots = false;
  store = await open('server', 3600);
  assert.equal((await packNames(bucket)).includes(compacted), false, 'deleted once a snapshot without it is stored');
  await store.close();

  const recovered = await recoverCatalog(join(root, 'new-server'), bucket, key);
  assert.deepEqual(recovered.missingPacks, []);
  store = await open('new-server', 3600);
  try {
    const [backup] = store.listBackups('node1');
    assert.deepEqual(await readBackup(store, backup), new Map([['f1.bin', kept]]));
  } finally {
    await store.close();
  }
});

// Regression: a restarted store took no snapshot until something changed its catalog, so commits whose
// snapshot never reached the bucket (a crash within the interval, a failed snapshot at close) stayed out of it.
test('a commit whose snapshot failed at close is in the bucket once the store has opened again', async (t) => {
  const { root, bucket, key, open } = await setUp(t);
  let store = await open('server', 3600);
  await backupFiles(store, 'node1', { 'a.bin': await bytesOf('snapshots-b1', 50_000) });
  await store.close();
  assert.equal(store.snapshotStatus?.isPending, false, 'the first backup is in the bucket');

  store = await open('server', 3600);
  bucket.isRefusingSnapshots = true;
  const content = await bytesOf('snapshots-b2', 50_000);
  const second = await backupFiles(store, 'node1', { 'b.bin': content });
  await store.close();
  assert.equal(store.snapshotStatus?.isPending, true, 'the snapshot at close failed');

  // An hour between snapshots, and nothing changes: only the start-up itself can store the second backup.
  bucket.isRefusingSnapshots = false;
  store = await open('server', 3600);
  await store.close();
  assert.equal(store.snapshotStatus?.isPending, false);

  await recoverCatalog(join(root, 'new-server'), bucket, key);
  store = await open('new-server', 3600);
  try {
    assert.deepEqual(store.listBackups('node1').map((backup) => backup.number), [1, second.number]);
    assert.deepEqual(await readBackup(store, store.findBackup('node1', second.number)!), new Map([['b.bin', content]]));
  } finally {
    await store.close();
  }
});

// The first open after `recover` deleted every pack the recovered catalog did not name. That catalog may be
// behind the bucket (an older generation when the newest does not open, a drill beside a live server), and
// what it does not name may be the only copy of committed backups: only `gc --delete-unknown-packs` deletes it.
test('after recover, packs the recovered catalog does not name stay in the bucket until gc --delete-unknown-packs', async (t) => {
  const { root, bucket, key, open } = await setUp(t);
  let store = await open('server', 3600);
  await backupFiles(store, 'node1', { 'a.bin': await bytesOf('orphans-b1', 50_000) });
  await store.close();
  const [named] = await packNames(bucket);
  bucket.isRefusingSnapshots = true;
  store = await open('server', 3600);
  await backupFiles(store, 'node1', { 'b.bin': await bytesOf('orphans-b2', 50_000) });
  await store.close();
  bucket.isRefusingSnapshots = false;
  const [unnamed] = (await packNames(bucket)).filter((name) => name !== named);

  await recoverCatalog(join(root, 'new-server'), bucket, key);
  /** What opening the recovered store removed and kept; it is closed again at once. */
  const openAndClose = async (options: Partial<StoreOptions> = {}): Promise<[number, number]> => {
    const recovered = await open('new-server', 3600, options);
    await recovered.close();
    return [recovered.recovery.removedOrphanPacks + recovered.recovery.removedUnknownPacks, recovered.recovery.keptOrphanPacks];
  };
  for (let opening = 1; opening <= 2; opening++) {
    assert.deepEqual(await openAndClose(), [0, 1], `open ${opening}`);
    assert.deepEqual(await packNames(bucket), [named, unnamed].sort());
  }
  assert.deepEqual(await openAndClose({ deleteUnknownPacks: true }), [1, 0]);
  assert.deepEqual(await packNames(bucket), [named]);
  // Swept once: from here on the store treats objects without a row as any store does: one put behind its
  // back (no intent recorded before it, see stale-catalog.test.ts) is kept, not deleted as a crash's leftover.
  const stray = join(root, 'stray.pack');
  await writeFile(stray, 'an object this store never announced');
  await bucket.putPack('0123456789abcdef0123456789abcdef', stray);
  assert.deepEqual(await openAndClose(), [0, 0]);
  assert.ok((await packNames(bucket)).includes('0123456789abcdef0123456789abcdef'));
});

// Regression: when the snapshot before a round of deletions failed, each doomed pack asked for one again:
// N doomed packs, N whole-catalog snapshots back to back.
test('a round of doomed-pack deletions whose snapshot fails asks for it once, not once per pack, and keeps every pack', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'cpsbackup-doomed-'));
  const catalog = new Catalog(join(root, 'catalog.db'));
  const backend = new LocalBackend(join(root, 'bucket'));
  t.after(async () => {
    catalog.close();
    await backend.close();
    await rm(root, { recursive: true, force: true });
  });
  let isRefusing = true;
  let calls = 0;
  const doomed = new DoomedPacks(catalog, backend, new ReaderLeases(() => undefined), undefined, {
    beforeDelete: async () => {
      calls++;
      if (isRefusing) throw new Error('catalog snapshot failed: 503 SlowDown');
    },
  });
  for (const name of ['p1', 'p2', 'p3', 'p4']) assert.ok(doomed.doom(catalog.packs.insert(name, 100, Date.now()), name));

  assert.equal(await doomed.deleteReady(), 0);
  assert.equal(calls, 1);
  assert.equal(catalog.packs.doomed().length, 4, 'every doomed pack kept for the next round');

  isRefusing = false;
  assert.equal(await doomed.deleteReady(), 4);
  assert.equal(calls, 2, 'one snapshot for the whole round');
  assert.deepEqual(catalog.packs.doomed(), []);
});

// Regression: protecting a backup changed only the local catalog, and asked for no snapshot: until some
// other change, a catalog recovered from the bucket lacked the protection, and retention would delete it.
test('protecting a backup asks for a snapshot, as a commit or a deletion does', async (t) => {
  const { open } = await setUp(t);
  const store = await open('server', 0);
  /** Until no snapshot is pending and none has been stored for 300 ms: the ones the open and the commit asked for are done. */
  const settled = async (): Promise<number> => {
    let taken = -1;
    for (let still = 0; still < 300;) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      const now = store.snapshotStatus!;
      still = now.taken === taken && !now.isPending ? still + 20 : 0;
      taken = now.taken;
    }
    return taken;
  };
  try {
    const backup = await backupFiles(store, 'node1', { 'a.bin': await bytesOf('snapshots-protect', 20_000) });
    const before = await settled();
    store.setProtected(backup, true);
    assert.equal(await settled(), before + 1, 'a snapshot holding the protection is stored');
  } finally {
    await store.close();
  }
});

// Review: recover listed the packs the bucket had lost and installed the catalog with their chunks
// sound: every later backup holding any of their bytes deduplicated against chunks that are gone, was
// acknowledged, and did not restore. They are marked damaged at recover now, as check would mark them.
test('recover marks the chunks of packs the bucket lost: the next backup of the same bytes stores them again and restores', async (t) => {
  const { root, bucket, key, open } = await setUp(t);
  let store = await open('server', 0);
  const lost = await bytesOf('snapshots-lost', 300_000);
  await backupFiles(store, 'node1', { 'old.bin': lost });
  await store.close();
  const [pack] = await packNames(bucket);
  await bucket.deletePack(pack);

  const recovered = await recoverCatalog(join(root, 'new-server'), bucket, key);
  assert.deepEqual(recovered.missingPacks, [pack]);
  store = await open('new-server', 3600);
  try {
    await backupFiles(store, 'node1', { 'new.bin': lost });
    const newest = store.listBackups('node1').at(-1)!;
    assert.deepEqual(await readBackup(store, newest), new Map([['new.bin', lost]]), 'the backup after recover restores');
  } finally {
    await store.close();
  }
});

// Regression (red team, truncated-pack.js): a pack the bucket holds shorter than recorded (an upload cut, a
// 0-byte object) went unnoticed by recover and by the start; the next backup deduplicated against its lost
// chunks and did not restore. Both mark them damaged now, naming the pack, as they mark a missing pack's.
test('a pack the bucket holds cut short: the start and recover mark its lost chunks, name the pack, and the next backup restores', async (t) => {
  const { root, bucket, key, open } = await setUp(t);
  let store = await open('server', 0);
  const content = await bytesOf('snapshots-short', 300_000);
  await backupFiles(store, 'node1', { 'old.bin': content });
  await store.close();
  const [pack] = await packNames(bucket);
  const file = join(root, 'bucket', 'packs', pack.slice(0, 2), `${pack}.pack`);
  await truncate(file, Math.floor((await stat(file)).size / 3));

  const recovered = await recoverCatalog(join(root, 'new-server'), bucket, key);
  assert.deepEqual(recovered.missingPacks, []);
  assert.equal(recovered.shortPacks.length, 1);
  assert.match(recovered.shortPacks[0], new RegExp(`^pack ${pack} in .* is truncated: \\d+ bytes stored, \\d+ recorded: \\d+ of its \\d+ chunks are marked damaged`));
  for (const server of ['server', 'new-server']) {
    store = await open(server, 3600);
    try {
      assert.equal(store.recovery.shortPacks, 1, `${server}: the start finds the short pack`);
      await backupFiles(store, 'node1', { 'new.bin': content });
      const newest = store.listBackups('node1').at(-1)!;
      assert.deepEqual(await readBackup(store, newest), new Map([['new.bin', content]]), `${server}: the next backup restores`);
    } finally {
      await store.close();
    }
  }
});
