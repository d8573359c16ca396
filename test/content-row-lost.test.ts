// Regression (red team F5): the newest content row deleted left its chunk list behind. check named it, but
// --repair neither took out the file nor the orphan rows, and every later backup storing a new file failed
// ("internal server error", UNIQUE constraint failed: content_chunks): the new content took the freed id.
// Now a new content takes an id past every chunk list too, and --repair takes out the files whose content
// row is gone and removes the orphan lists (releasing their chunks' references).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { backupFiles, bytesOf, openStoreFixture, readBackup } from './support/store-fixture';

test('a lost content row: new backups still store new files, and --repair removes its files and its orphan chunk list', async (t) => {
  const fixture = await openStoreFixture();
  t.after(() => fixture.destroy());
  const a = await bytesOf('a', 100_000);
  const b = await bytesOf('b', 200_000);
  const first = await backupFiles(fixture.store, 'node1', { '/data/a.bin': a, '/data/b.bin': b });
  const database = new Database(join(fixture.directory, 'catalog.db'));
  let lost: number;
  try {
    lost = database.prepare(`SELECT MAX(id) FROM contents`).pluck().get() as number;
    database.prepare(`DELETE FROM contents WHERE id = ?`).run(lost);
  } finally {
    database.close();
  }
  const report = await fixture.store.check({ readDataPercent: 0 });
  assert.ok(report.damagedContents.some((damage) => damage.contentId === lost), JSON.stringify(report.damagedContents));

  const c = await bytesOf('c', 150_000);
  const second = await backupFiles(fixture.store, 'node1', { '/data/c.bin': c });
  assert.ok((await readBackup(fixture.store, second)).get('/data/c.bin')!.equals(c), 'a new file is stored and restores');

  const removed = await fixture.store.repair();
  assert.deepEqual(removed.map((file) => [file.backupNumber, file.path.toString()]), [[first.number, '/data/b.bin']]);
  assert.equal(await fixture.store.removeOrphanChunkLists(), 1);
  const after = await fixture.store.check({ readDataPercent: 100 });
  assert.deepEqual(after.problems, [], 'no orphan rows nor reference counts left wrong');
  assert.deepEqual(after.damagedContents, []);
  assert.deepEqual([...(await readBackup(fixture.store, first)).keys()], ['/data/a.bin']);
});
