// A store whose packs leave the server, snapshotting after every change: the pack GC compacts away stays in
// the bucket while the snapshot that would drop it is still being stored, and after that snapshot fails;
// `recover` from the bucket at that moment restores every committed backup.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChunkStore } from '../src/chunkstore/store';
import { LocalBackend } from '../src/chunkstore/backend/local-backend';
import type { PackBackend } from '../src/chunkstore/backend/pack-backend';
import { StoreKey } from '../src/chunkstore/crypto/store-key';
import { recoverCatalog } from '../src/chunkstore/snapshot/recover-catalog';
import { backupFiles, bytesOf, readBackup, SMALL_CHUNKS } from './support/store-fixture';
import { FlakyBucket } from './support/flaky-bucket';

async function packNames(bucket: PackBackend): Promise<string[]> {
  const names: string[] = [];
  for await (const pack of bucket.listPacks()) names.push(pack.name);
  return names.sort();
}

async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (const startedAt = Date.now(); !(await condition());) {
    if (Date.now() - startedAt > 10_000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

// Regression: the snapshot before GC's deletions was awaited by flush(), which returned as soon as the run in
// flight ended, while the run that ended one started at once (interval 0) had stored nothing yet. The
// compacted pack was deleted; when that snapshot failed, the bucket's newest one still put the moved chunks
// in the deleted pack, and `recover` reported it missing: every backup holding them could not be restored.
test('a compacted pack stays in the bucket until a snapshot begun after its doom is stored', { timeout: 60_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'cpsbackup-snapshot-before-delete-'));
  const folder = new LocalBackend(join(root, 'bucket'));
  t.after(async () => {
    await folder.close();
    await rm(root, { recursive: true, force: true });
  });
  const bucket = new FlakyBucket(folder);
  const key = new StoreKey(randomBytes(32), 'key file test.key');
  const store = await ChunkStore.open(join(root, 'server'), {
    chunker: SMALL_CHUNKS, compressionLevel: 3, encoderThreads: 0, backend: bucket, encryptionKey: key, snapshotIntervalSeconds: 0,
  });
  let isStoreOpen = true;
  t.after(async () => { if (isStoreOpen) await store.close(); });
  const kept = await bytesOf('before-delete-kept', 100_000);
  const first = await backupFiles(store, 'node1', { 'f1.bin': kept, 'f2.bin': await bytesOf('before-delete-gone', 400_000) });
  await backupFiles(store, 'node1', { 'f1.bin': kept });
  const [compacted] = await packNames(bucket);
  // Settled: the commits' snapshots are stored (none pending, none begun for 300 ms).
  for (let quiet = 0, seen = -1; quiet < 300; quiet = bucket.snapshotAttempts === seen && store.snapshotStatus?.isPending === false ? quiet + 20 : 0) {
    seen = bucket.snapshotAttempts;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }

  // The deletion's snapshot copies the catalog and waits to be put; the one after it waits, then fails.
  let releaseFirst!: () => void;
  let releaseSecond!: () => void;
  const firstHeld = new Promise<void>((resolve) => { releaseFirst = resolve; });
  const secondHeld = new Promise<void>((resolve) => { releaseSecond = resolve; });
  const armedAt = bucket.snapshotAttempts;
  bucket.beforeSnapshotPut = async (attempt) => {
    if (attempt === armedAt + 1) await firstHeld;
    if (attempt === armedAt + 2) {
      await secondHeld;
      throw new Error('503 SlowDown (refused by the test)');
    }
  };
  store.deleteBackups([first]);
  await until(() => bucket.snapshotAttempts === armedAt + 1, 'the deletion\'s snapshot to be put');
  const collecting = store.collectGarbage();
  // The doom marks the catalog changed while that snapshot, copied before it, is still being put.
  await until(() => store.snapshotStatus?.isPending === true, 'the compaction\'s doom');
  releaseFirst();
  await until(() => bucket.snapshotAttempts === armedAt + 2, 'the next snapshot to begin');
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.ok((await packNames(bucket)).includes(compacted), 'kept while the snapshot without it is being stored');
  releaseSecond();
  const report = await collecting;
  assert.equal(report.rewrittenPacks, 1, JSON.stringify(report));
  assert.ok((await packNames(bucket)).includes(compacted), 'kept after the snapshot without it failed');

  // The bucket's newest snapshot still names the compacted pack: recovered now, every backup restores.
  const recovered = await recoverCatalog(join(root, 'new-server'), bucket, key);
  assert.deepEqual(recovered.missingPacks, []);
  bucket.beforeSnapshotPut = undefined;
  isStoreOpen = false;
  await store.close();
  const other = await ChunkStore.open(join(root, 'new-server'), {
    chunker: SMALL_CHUNKS, compressionLevel: 3, encoderThreads: 0, backend: bucket, encryptionKey: key, snapshotIntervalSeconds: 3600,
  });
  try {
    const backups = other.listBackups('node1');
    assert.deepEqual(backups.map((backup) => backup.number), [2], 'the deletion is in the recovered catalog');
    const files = await readBackup(other, backups[0]);
    assert.deepEqual([...files.keys()], ['f1.bin']);
    assert.ok(files.get('f1.bin')!.equals(kept), 'f1.bin restores byte for byte');
  } finally {
    await other.close();
  }
});
