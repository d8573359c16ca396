// Regression (red team F3): damage in the catalog's chunk lists was reported by check (a chunk row gone, a
// list entry changed) or not even seen (two chunks swapped, the content hash changed: check said "no errors
// found"), and never marked: every later backup deduplicated into the broken content, even one that read the
// file again, exit 0, and no restore of the file worked; check --repair removed nothing. Now check recomputes
// each content's hash from its chunk list, marks every broken content (damaged_contents), no backup carries or
// deduplicates against a marked one (the file is stored as a new content), and --repair takes the files that
// still point at it out of their backups.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { addFile, bytesOf, openStoreFixture, readBackup, backupFiles } from './support/store-fixture';

const damages: { name: string; reported: RegExp; sql: string }[] = [
  { name: 'a chunk row deleted', reported: /chunks are missing from the catalog/,
    sql: `DELETE FROM chunks WHERE id = (SELECT chunk_id FROM content_chunks WHERE content_id = @content AND seq = 2)` },
  { name: 'a list entry pointing at another chunk of the content', reported: /does not hash to its content hash|add up to/,
    sql: `UPDATE content_chunks SET chunk_id = (SELECT chunk_id FROM content_chunks WHERE content_id = @content AND seq = 3) WHERE content_id = @content AND seq = 2` },
  { name: 'two chunks swapped', reported: /does not hash to its content hash/,
    sql: `UPDATE content_chunks SET seq = CASE seq WHEN 0 THEN 1 ELSE 0 END - 2 WHERE content_id = @content AND seq IN (0, 1);
          UPDATE content_chunks SET seq = seq + 2 WHERE content_id = @content AND seq < 0` },
  { name: 'the content hash changed', reported: /does not hash to its content hash/,
    sql: `UPDATE contents SET hash = randomblob(32) WHERE id = @content` },
];

for (const { name, reported, sql } of damages) {
  test(`a content check finds broken is marked, never reused, and --repair takes its files out: ${name}`, async (t) => {
    const fixture = await openStoreFixture();
    t.after(() => fixture.destroy());
    const victim = await bytesOf('victim', 300_000);
    const other = await bytesOf('other', 100_000);
    const first = await backupFiles(fixture.store, 'node1', { '/data/a.bin': victim, '/data/b.bin': other });

    const database = new Database(join(fixture.directory, 'catalog.db'));
    let content: number;
    try {
      content = database.prepare(`SELECT content_id FROM entries WHERE path = ?`).pluck().get(Buffer.from('/data/a.bin')) as number;
      assert.ok((database.prepare(`SELECT COUNT(*) FROM content_chunks WHERE content_id = ?`).pluck().get(content) as number) >= 4);
      database.exec(sql.replaceAll('@content', String(content)));
    } finally {
      database.close();
    }

    const report = await fixture.store.check({ readDataPercent: 100 });
    const damage = report.damagedContents.find((found) => found.contentId === content);
    assert.ok(damage !== undefined, `check names content ${content}: ${JSON.stringify(report.damagedContents)}`);
    assert.match(damage.reason, reported);
    assert.deepEqual(report.affectedFiles.map((file) => file.path.toString()), ['/data/a.bin']);

    // The next backup carries b.bin but not a.bin, and stores a.bin's bytes as a new content rather than reuse the broken one.
    const session = await fixture.store.beginBackup('node1', { kind: 0, hostname: 'test', labels: {}, parentNumber: first.number });
    assert.equal(session.parentContent(Buffer.from('/data/a.bin')), undefined, 'a broken content is not carried forward');
    assert.notEqual(session.parentContent(Buffer.from('/data/b.bin')), undefined);
    await addFile(session, '/data/a.bin', victim);
    await addFile(session, '/data/b.bin', other);
    const second = await session.commit({}, 0);
    const files = await readBackup(fixture.store, second);
    assert.ok(files.get('/data/a.bin')!.equals(victim), 'the new backup restores a.bin');

    // A backup of the bytes once more (no parent) deduplicates against the sound new content, not the broken one.
    const third = await backupFiles(fixture.store, 'node1', { '/data/a.bin': victim });
    assert.ok((await readBackup(fixture.store, third)).get('/data/a.bin')!.equals(victim));

    const removed = await fixture.store.repair();
    assert.deepEqual(removed.map((file) => [file.backupNumber, file.path.toString()]), [[first.number, '/data/a.bin']]);
    const after = await readBackup(fixture.store, first);
    assert.deepEqual([...after.keys()], ['/data/b.bin']);
  });
}
