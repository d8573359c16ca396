// Regression (red team F9, the class on every backend): check --repair took files out of their backups as "nothing
// can heal" them while the server held a verified copy of the damaged chunk's bytes. Now check stores such a chunk
// again from the copy, in a new pack read back from the store before it is recorded: from the read cache's range,
// and from a client's own copy (another encoding of the same bytes, in another pack; on a local store too).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { Codec } from '../src/chunkstore/pack/pack-format';
import type { ChunkStore } from '../src/chunkstore/store';
import { backupFiles, bytesOf, fileEntry, openStoreFixture, readBackup } from './support/store-fixture';

/** Where the catalog places a chunk now (pack name and offset). */
function placeOf(store: ChunkStore, hash: Buffer): { packName: string; offset: number } {
  const catalog = (store as unknown as { catalog: { chunks: { find(hash: Buffer): { packName: string; offset: number } | undefined } } }).catalog;
  return catalog.chunks.find(hash)!;
}

/** Flips one byte of a local store's pack, `past` bytes into the record at `offset`. */
async function flipPackByte(directory: string, packName: string, offset: number): Promise<void> {
  const handle = await open(join(directory, 'packs', packName.slice(0, 2), `${packName}.pack`), 'r+');
  try {
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, offset);
    byte[0] ^= 0xff;
    await handle.write(byte, 0, 1, offset);
  } finally {
    await handle.close();
  }
}

test('a chunk damaged in its pack while the read cache holds its range: check heals it from there, repair removes nothing', async (t) => {
  const fixture = await openStoreFixture({ cacheBytes: 16 * 1024 * 1024 });
  t.after(() => fixture.destroy());
  const bytes = await bytesOf('heal-from-cache', 200_000);
  const backup = await backupFiles(fixture.store, 'node1', { '/d.bin': bytes });
  // A restore reads every range through the cache, which keeps those whose records opened.
  assert.ok((await readBackup(fixture.store, backup)).get('/d.bin')!.equals(bytes));
  const store = fixture.store;
  const hashes = (store as unknown as { catalog: { checks: { chunksAfter(a: number, b: number, c: number, n: number): { hash: Buffer }[] } } })
    .catalog.checks.chunksAfter(-1, -1, -1, 1000).map((row) => row.hash);
  const damaged = placeOf(store, hashes[0]);
  await flipPackByte(fixture.directory, damaged.packName, damaged.offset + 60);

  const report = await store.check({ readDataPercent: 100 });
  assert.deepEqual(report.damagedChunks, [], JSON.stringify(report.damagedChunks));
  assert.equal(report.healedChunks?.length, 1);
  assert.equal(report.healedChunks![0].hash, hashes[0].toString('hex'));
  assert.equal(report.healedChunks![0].source, 'the read cache');
  assert.notEqual(placeOf(store, hashes[0]).packName, damaged.packName, 'the row moved to the new pack');
  assert.deepEqual(await store.repair(), []);
  // Without the cache: a fresh open, the cache folder's files of this pack still there but the row elsewhere now.
  const reopened = await fixture.reopen();
  assert.ok((await readBackup(reopened, backup)).get('/d.bin')!.equals(bytes));
  const again = await reopened.check({ readDataPercent: 100 });
  assert.deepEqual([again.damagedChunks.length, again.healedChunks?.length ?? 0], [0, 0]);
});

test('a shared chunk damaged while another client holds its own copy: check heals the shared row from it, both restore', async (t) => {
  const fixture = await openStoreFixture();
  t.after(() => fixture.destroy());
  const store = fixture.store;
  const bytes = Buffer.from('a chunk two clients hold, encoded two ways. '.repeat(100)).subarray(0, 3000);
  const hash = createHash('sha256').update(bytes).digest();
  // node2 stores it first (compressed by the store); node1 sends it raw: its own copy, in another record.
  const shared = await backupFiles(store, 'node2', { '/f': bytes });
  const session = await store.beginBackup('node1', { kind: 0, hostname: 'test', labels: {}, parentNumber: 0 });
  assert.equal(session.missingChunks(hash)[0], 1);
  await session.receiveChunks([{ hash, rawSize: bytes.length, codec: Codec.Raw, payload: bytes }]);
  await session.addEntry(fileEntry('/g', bytes.length), session.chunkedContent(hash, () => '/g'));
  const own = await session.commit({}, 0);

  const damaged = placeOf(store, hash);
  await flipPackByte(fixture.directory, damaged.packName, damaged.offset + 60);
  const report = await store.check({ readDataPercent: 100 });
  assert.deepEqual(report.damagedChunks, [], JSON.stringify(report.damagedChunks));
  assert.equal(report.healedChunks?.length, 1);
  assert.match(report.healedChunks![0].source, /^client node1's own copy in pack /);
  assert.deepEqual(await store.repair(), []);
  assert.ok((await readBackup(store, shared)).get('/f')!.equals(bytes));
  assert.ok((await readBackup(store, own)).get('/g')!.equals(bytes));
  const again = await store.check({ readDataPercent: 100 });
  assert.deepEqual([again.damagedChunks.length, again.problems.length], [0, 0], JSON.stringify(again.problems));
});
