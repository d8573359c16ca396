// A check runs beside backups (a scheduled check with read-data takes hours): a pack a backup records
// while the check lists the store or reads its chunks is not "missing", and its chunks are not "damaged".
// A false mark is for good: clients would send those files again and check --repair would drop them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backupFiles, bytesOf, flipByteOfFirstPack, openStoreFixture, readBackup } from './support/store-fixture';

test('packs recorded while a check lists the store or reads its chunks are neither missing nor damaged', async (t) => {
  const fixture = await openStoreFixture();
  t.after(() => fixture.destroy());
  const { store } = fixture;
  const first = await backupFiles(store, 'node1', { '/a.bin': await bytesOf('a', 300_000), '/b.bin': await bytesOf('b', 200_000) });
  const backend = store.packBackend;
  const listPacks = backend.listPacks.bind(backend);
  const readRange = backend.readRange.bind(backend);
  const during: unknown[] = [];
  // One backup commits as the listing ends, another while the first chunk is read.
  backend.listPacks = async function* () {
    yield* listPacks();
    during.push(await backupFiles(store, 'node2', { '/c.bin': await bytesOf('c', 250_000) }));
  };
  let isFirstRead = true;
  backend.readRange = async (name, offset, length) => {
    if (isFirstRead) {
      isFirstRead = false;
      during.push(await backupFiles(store, 'node3', { '/d.bin': await bytesOf('d', 250_000) }));
    }
    return readRange(name, offset, length);
  };
  const report = await store.check({ readDataPercent: 100 });
  assert.equal(during.length, 2, 'both backups committed while the check ran');
  assert.deepEqual(report.problems, []);
  assert.deepEqual(report.damagedChunks, [], 'chunks of packs recorded during the check were marked damaged');

  backend.listPacks = listPacks;
  backend.readRange = readRange;
  const again = await store.check({ readDataPercent: 100 });
  assert.deepEqual([again.problems, again.damagedChunks], [[], []]);
  assert.equal((await readBackup(store, first)).get('/a.bin')?.length, 300_000);
});

test('a backup running while a check marks a chunk damaged does not carry the damaged file forward as unchanged', async (t) => {
  const fixture = await openStoreFixture();
  t.after(() => fixture.destroy());
  const { store } = fixture;
  await backupFiles(store, 'node1', { '/a.bin': await bytesOf('a', 100_000), '/b.bin': await bytesOf('b', 100_000) });
  const session = await store.beginBackup('node1', { kind: 0, hostname: 'test', labels: {}, parentNumber: 1 });
  try {
    assert.notEqual(session.parentContent(Buffer.from('/b.bin')), undefined, 'b is sound: it goes as a reference');
    // The first record of the pack is a.bin's first chunk: one byte of its payload flipped, then a check finds it.
    await flipByteOfFirstPack(fixture.directory, 200);
    const report = await store.check({ readDataPercent: 100 });
    assert.equal(report.damagedChunks.length, 1);
    assert.equal(session.parentContent(Buffer.from('/a.bin')), undefined, 'the damaged file was carried forward: the client would not send it again');
  } finally {
    await session.abandon();
  }
});
