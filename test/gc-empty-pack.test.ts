// A sealed pack no chunk row points into (a crash between compaction's move of its rows and its doom) is
// garbage: the store reports it, and the next ordinary collection deletes it, not only `gc` over all packs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Catalog } from '../src/chunkstore/catalog/catalog';
import { LocalBackend } from '../src/chunkstore/backend/local-backend';
import { backupFiles, bytesOf, openStoreFixture, readBackup } from './support/store-fixture';

async function packNames(backend: LocalBackend): Promise<string[]> {
  const names: string[] = [];
  for await (const pack of backend.listPacks()) names.push(pack.name);
  return names.sort();
}

// Regression: compaction moves a pack's rows durably when the new pack is stored, then dooms the old one; the
// packs it still has to finish live in memory only. After a crash between the two, the emptied pack had no row
// left for any sweep to touch and hasGarbage() said there was nothing to collect: it stayed until a manual gc.
test('a sealed pack with no chunk rows left is doomed and deleted by the next ordinary collection', { timeout: 60_000 }, async (t) => {
  const fixture = await openStoreFixture();
  t.after(() => fixture.destroy());
  const content = await bytesOf('empty-pack-kept', 100_000);
  const backup = await backupFiles(fixture.store, 'node1', { '/data/kept': content });
  await fixture.store.close();
  const folder = new LocalBackend(fixture.directory);
  const [kept] = await packNames(folder);
  // The state the crash leaves: a sealed pack in the catalog and the store, none of whose chunks lie there any more.
  const emptied = randomBytes(16).toString('hex');
  const staged = join(fixture.directory, 'staging', 'emptied.pack');
  await writeFile(staged, randomBytes(4096));
  await folder.putPack(emptied, staged);
  const catalog = new Catalog(join(fixture.directory, 'catalog.db'));
  catalog.packs.insert(emptied, 4096, Date.now());
  catalog.close();

  const store = await fixture.reopen();
  assert.equal(store.hasGarbage(), true, 'the empty pack counts as garbage, so the server collects at start');
  const report = await store.collectGarbage();
  assert.equal(report.deletedPacks, 1, JSON.stringify(report));
  assert.deepEqual(await packNames(folder), [kept]);
  assert.equal(store.hasGarbage(), false);
  assert.ok((await readBackup(store, backup)).get('/data/kept')?.equals(content));
  await folder.close();
});
