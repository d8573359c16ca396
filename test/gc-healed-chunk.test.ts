// GC compaction beside a backup that heals a damaged chunk: the chunk's row, moved to the fresh copy while
// compaction read the old one, is not marked damaged again, and check --repair removes no intact file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalBackend } from '../src/chunkstore/backend/local-backend';
import { backupFiles, bytesOf, flipByteOfFirstPack, openStoreFixture, readBackup } from './support/store-fixture';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Regression: compaction took the pack's chunk locations once, then read them (async I/O); a backup meanwhile
// stored a damaged chunk's bytes afresh, which moved its row to the new copy and cleared its mark. The read of
// the old place failed, GC marked the chunk damaged by id alone, and check --repair then removed the intact
// file from every backup holding it.
test('a chunk healed while compaction reads its damaged old copy stays healed; repair removes nothing', { timeout: 60_000 }, async (t) => {
  const directory = await mkdtemp(join(tmpdir(), 'cpsbackup-gc-healed-'));
  t.after(() => rm(directory, { recursive: true, force: true }));
  const folder = new LocalBackend(directory);
  let isHolding = false;
  let held!: () => void;
  let release!: () => void;
  const reachedRead = new Promise<void>((resolve) => { held = resolve; });
  const released = new Promise<void>((resolve) => { release = resolve; });
  // The pack's first read by GC waits until the test lets it go.
  const backend = Object.create(folder) as LocalBackend;
  backend.readRange = async (name, offset, length) => {
    if (isHolding) {
      isHolding = false;
      held();
      await released;
    }
    return folder.readRange(name, offset, length);
  };
  const fixture = await openStoreFixture({ resumeHoldSeconds: 0, backend });
  t.after(() => fixture.destroy());
  const store = fixture.store;
  const keep = await bytesOf('healed-keep', 200_000);
  const first = await backupFiles(store, 'node1', { '/a/keep': keep, '/a/drop': await bytesOf('healed-drop', 800_000) });
  const second = await backupFiles(store, 'node1', { '/a/keep': keep });
  // One byte of the kept file's first chunk flipped in its pack; the check marks the chunk damaged.
  await flipByteOfFirstPack(directory, 200);
  assert.equal((await store.check({ readDataPercent: 100 })).damagedChunks.length, 1);
  assert.equal(store.damagedContents(first.clientId).size, 1);

  store.deleteBackups([first]);
  isHolding = true;
  const collecting = store.collectGarbage();
  await reachedRead;
  // While compaction reads the pack, a backup of the same bytes stores the damaged chunk afresh: healed.
  const third = await backupFiles(store, 'node1', { '/a/keep': keep });
  assert.equal(store.damagedContents(first.clientId).size, 0, 'healed by the backup');
  release();
  const report = await collecting;
  assert.equal(report.damagedPacks, 0, JSON.stringify(report));
  assert.equal(store.damagedContents(first.clientId).size, 0, 'still healed after gc');
  assert.deepEqual(await store.repair(), [], 'repair removes no intact file');
  for (const backup of [second, third]) {
    const files = await readBackup(store, backup);
    assert.ok(files.get('/a/keep')?.equals(keep), `backup ${backup.number} restores /a/keep`);
  }
  // The old pack, whose healed record is now dead, is compacted by the next run.
  const next = await store.collectGarbage();
  assert.equal(next.damagedPacks, 0, JSON.stringify(next));
  assert.equal((await store.check({ readDataPercent: 100 })).damagedChunks.length, 0);
});
