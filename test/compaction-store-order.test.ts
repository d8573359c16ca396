// Compaction writes its copies into new packs, which are stored two at a time: a small last pack may be
// stored (and recorded) before a bigger one sealed earlier. Regression (review of 527dd34): the copies'
// rows were taken in the order they were appended, so a pack recorded out of order took another pack's
// rows; the collection failed ("lists records in another order") and left stored packs unrecorded. Each
// copy's row now travels with its record.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Catalog } from '../src/chunkstore/catalog/catalog';
import { LocalBackend } from '../src/chunkstore/backend/local-backend';
import { ChunkCodec } from '../src/chunkstore/codec';
import { PackCompaction } from '../src/chunkstore/gc/compaction';
import { readChunk } from '../src/chunkstore/pack/pack-reader';
import { PLAIN_FRAMING } from '../src/chunkstore/pack/record-framing';
import { backupFiles, bytesOf, openStoreFixture } from './support/store-fixture';

const KIB = 1024;

test('a compaction whose new packs are stored out of order moves every row to its own copy', { timeout: 60_000 }, async (t) => {
  const fixture = await openStoreFixture({ packSize: 64 * KIB });
  t.after(() => fixture.destroy());
  // Kept and dropped files side by side, so every pack of the first backup is about half dead once it goes.
  const files: Record<string, Buffer> = {};
  for (let index = 0; index < 24; index++) {
    files[`/data/kept-${index}`] = await bytesOf(`order-kept-${index}`, 20 * KIB);
    files[`/data/dropped-${index}`] = await bytesOf(`order-dropped-${index}`, 20 * KIB);
  }
  const first = await backupFiles(fixture.store, 'node1', files);
  await backupFiles(fixture.store, 'node1', Object.fromEntries(Object.entries(files).filter(([path]) => path.includes('kept'))));
  fixture.store.deleteBackups([first]);
  await fixture.store.close();

  const catalog = new Catalog(join(fixture.directory, 'catalog.db'));
  t.after(() => catalog.close());
  catalog.garbage.sweep(() => ({ hasContent: () => false, hasChunk: () => false }));
  const local = new LocalBackend(fixture.directory);
  let puts = 0;
  // The first new pack is stored last: the one after it (the last, smaller) is recorded first.
  const backend = Object.assign(Object.create(local) as LocalBackend, {
    async putPack(name: string, staged: string): Promise<void> {
      if (puts++ === 0) await sleep(300);
      await local.putPack(name, staged);
    },
  });
  const codec = new ChunkCodec(3);
  const compaction = new PackCompaction({
    catalog, backend, codec, framing: PLAIN_FRAMING, stagingDirectory: join(fixture.directory, 'staging'), packWriting: { targetSize: 96 * KIB },
  });
  const sparse = catalog.packs.usage().filter((usage) => usage.liveBytes > 0 && usage.liveBytes < usage.size);
  assert.ok(sparse.length >= 2, `${sparse.length} packs half dead`);
  for (const pack of sparse) await compaction.copyLive(pack);
  await compaction.finish();
  assert.ok(puts >= 2, `${puts} new packs stored`);

  for (const pack of sparse) assert.equal(catalog.chunks.ofPack(pack.id).length, 0, `every live row moved out of pack ${pack.name}`);
  for (const pack of catalog.packs.all()) {
    for (const location of catalog.chunks.ofPack(pack.id)) await readChunk(local, location, codec, undefined, PLAIN_FRAMING);
  }
});
