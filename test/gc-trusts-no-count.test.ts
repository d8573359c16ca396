// Regression (red team F7): garbage collection trusted reference counts. One contents.refs or chunks.refs
// set to 0 while entries still used it, and the next sweep (at a start, after a commit) deleted the
// rows: the file was gone from every backup holding it. Now a row whose count says unused goes only
// once an indexed lookup confirms nothing lists it; a count that disagrees is recounted, kept and reported.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { backupFiles, bytesOf, openStoreFixture, type StoreFixture } from './support/store-fixture';
import { readBackup } from './support/store-fixture';
import { describeRepairedCounts } from '../src/chunkstore/store';

/** Closes the store, runs `damage` on its catalog file, opens it again. */
async function damageCatalog(fixture: StoreFixture, damage: (database: Database.Database) => void): Promise<void> {
  await fixture.store.close();
  const database = new Database(join(fixture.directory, 'catalog.db'));
  try {
    damage(database);
  } finally {
    database.close();
  }
  fixture.store = await (await import('../src/chunkstore/store')).ChunkStore.open(fixture.directory, {
    chunker: { name: 'fastcdc', minSize: 4096, avgSize: 16384, maxSize: 65536 }, compressionLevel: 3, encoderThreads: 0, resumeHoldSeconds: 0,
  });
}

async function twoBackups(fixture: StoreFixture): Promise<{ kept: Buffer; dropped: Buffer }> {
  const kept = await bytesOf('kept', 300_000);
  const dropped = await bytesOf('dropped', 200_000);
  await backupFiles(fixture.store, 'node1', { '/srv/a.bin': await bytesOf('a', 100_000), '/srv/b.bin': kept, '/srv/gone.bin': dropped });
  await backupFiles(fixture.store, 'node1', { '/srv/a.bin': await bytesOf('a', 100_000), '/srv/b.bin': kept });
  return { kept, dropped };
}

const contentOf = (path: string) => (database: Database.Database): number =>
  database.prepare(`SELECT content_id FROM entries WHERE path = ? LIMIT 1`).pluck().get(Buffer.from(path)) as number;

for (const kind of ['content', 'chunk'] as const) {
  test(`a ${kind} whose count says unused while entries use it is repaired and kept, not swept`, async (t) => {
    const fixture = await openStoreFixture({ resumeHoldSeconds: 0 });
    t.after(() => fixture.destroy());
    const { kept } = await twoBackups(fixture);
    let damagedId = 0;
    await damageCatalog(fixture, (database) => {
      const content = contentOf('/srv/b.bin')(database);
      if (kind === 'content') {
        damagedId = content;
        database.prepare(`UPDATE contents SET refs = 0 WHERE id = ?`).run(content);
      } else {
        damagedId = database.prepare(`SELECT chunk_id FROM content_chunks WHERE content_id = ? AND seq = 0`).pluck().get(content) as number;
        database.prepare(`UPDATE chunks SET refs = 0 WHERE id IN (SELECT chunk_id FROM content_chunks WHERE content_id = ?)`).run(content);
      }
    });
    const report = await fixture.store.collectGarbage({ allPacks: true });
    assert.equal(report.deletedContents, 0);
    assert.equal(report.deletedChunks, 0);
    assert.ok(report.repairedCounts.some((count) => count.kind === kind && count.id === damagedId && count.now > 0), JSON.stringify(report.repairedCounts));
    const lines = describeRepairedCounts(report.repairedCounts);
    if (kind === 'content') assert.match(lines.join('\n'), /content \d+ said unused while 2 committed entries use it \(client node1, backup 1, \/srv\/b\.bin, …\): repaired/);
    for (const backup of fixture.store.listBackups('node1')) {
      assert.ok((await readBackup(fixture.store, backup)).get('/srv/b.bin')?.equals(kept), `backup ${backup.number} still restores b.bin`);
    }
    const checked = await fixture.store.check({ readDataPercent: 100 });
    assert.deepEqual([...checked.problems, ...checked.damagedContents.map((damage) => damage.reason)], [], 'the counts are right again');
    // A second collection finds nothing left to repair.
    assert.deepEqual((await fixture.store.collectGarbage()).repairedCounts, []);
  });
}

test('garbage that shares chunks with a live file under damaged counts: the garbage goes, the shared chunks stay and are recounted', async (t) => {
  const fixture = await openStoreFixture({ resumeHoldSeconds: 0 });
  t.after(() => fixture.destroy());
  const shared = await bytesOf('shared', 300_000);
  const longer = Buffer.concat([shared, await bytesOf('tail', 100_000)]);
  const first = await backupFiles(fixture.store, 'node1', { '/srv/short.bin': shared });
  const second = await backupFiles(fixture.store, 'node1', { '/srv/long.bin': longer });
  fixture.store.deleteBackups([first]);
  // Every chunk's count says 0: releasing the short file's content took the shared ones below 0, never to be looked at again.
  await damageCatalog(fixture, (database) => {
    database.prepare(`UPDATE chunks SET refs = 0`).run();
  });
  const report = await fixture.store.collectGarbage({ allPacks: true });
  assert.equal(report.deletedContents, 1, 'the short file was garbage');
  assert.ok(report.deletedChunks >= 1, 'its own last chunk went');
  assert.ok(report.repairedCounts.length > 0);
  assert.ok((await readBackup(fixture.store, second)).get('/srv/long.bin')?.equals(longer));
  const checked = await fixture.store.check({ readDataPercent: 100 });
  assert.deepEqual(checked.problems, [], 'no count left below what it counts');
});
