// Regression (red team F1): one damaged entry of the catalog's contents_hash index (the table untouched) made
// the next backup of a re-read b.bin point at d.bin's content: the dedup lookup took the row the index named
// without checking it, the restore checked the bytes against the content's size and hash, not the entry's,
// and check never ran SQLite's integrity check: backup, restore and check --read-data all said all is well.
// Now the lookup re-reads the row it found and passes over one that is not the one asked for, a restore refuses
// an entry whose content's size is not the entry's, check reports the index damage, and --repair rebuilds it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { backupFiles, bytesOf, openStoreFixture, readBackup } from './support/store-fixture';
import type { ChunkStore, BackupRecord } from '../src/chunkstore/store';

/** Points the index entry of content `from` at content `to`'s rowid, on the page itself (a bit flip would). */
async function damageIndexEntry(catalogFile: string, from: number, to: number): Promise<void> {
  const database = new Database(catalogFile);
  let root: number;
  let pageSize: number;
  let hash: Buffer;
  let size: number;
  try {
    // Everything in the file itself, where the page is damaged (no WAL left to read it from).
    database.pragma('wal_checkpoint(TRUNCATE)');
    root = database.prepare(`SELECT rootpage FROM sqlite_master WHERE name = 'contents_hash'`).pluck().get() as number;
    pageSize = database.pragma('page_size', { simple: true }) as number;
    ({ hash, size } = database.prepare(`SELECT hash, size FROM contents WHERE id = ?`).get(from) as { hash: Buffer; size: number });
  } finally {
    database.close();
  }
  const file = await readFile(catalogFile);
  const page = file.subarray((root - 1) * pageSize, root * pageSize);
  // Record body: hash, size as SQLite's shortest big-endian integer, rowid in one byte (the page may hold stale copies too).
  const width = [1, 2, 3, 4, 6, 8].find((bytes) => size < 2 ** (8 * bytes - 1))!;
  let at = page.indexOf(hash);
  while (at >= 0 && !(at + 32 + width < page.length && page.readUIntBE(at + 32, width) === size && page[at + 32 + width] === from)) at = page.indexOf(hash, at + 1);
  assert.ok(at >= 0, 'the entry is on the index root page');
  page[at + 32 + width] = to;
  await writeFile(catalogFile, file);
}

function contentOf(directory: string, backup: BackupRecord, path: string): number {
  const database = new Database(join(directory, 'catalog.db'), { readonly: true });
  try {
    return database.prepare(`SELECT content_id FROM entries WHERE backup_id = ? AND path = ?`).pluck().get(backup.id, Buffer.from(path)) as number;
  } finally {
    database.close();
  }
}

async function damageOf(store: ChunkStore, backup: BackupRecord, path: string): Promise<string | undefined> {
  const reader = store.openReader(backup);
  try {
    for await (const page of reader.pages()) for (const item of page) if (item.entry.path.toString() === path) return item.damage;
  } finally {
    reader.close();
  }
  return undefined;
}

test('a damaged contents_hash index entry: the dedup lookup passes over the wrong row, check reports it, --repair rebuilds it', async (t) => {
  const fixture = await openStoreFixture();
  t.after(() => fixture.destroy());
  const b = await bytesOf('b', 100_000);
  const d = await bytesOf('d', 80_000);
  // a.bin first: rowids 0 and 1 take no byte in a record (SQLite's serial types 8 and 9), b.bin's and d.bin's take one.
  const first = await backupFiles(fixture.store, 'node1', { '/data/a.bin': await bytesOf('a', 1000), '/data/b.bin': b, '/data/d.bin': d });
  const bContent = contentOf(fixture.directory, first, '/data/b.bin');
  const dContent = contentOf(fixture.directory, first, '/data/d.bin');
  assert.ok(bContent >= 2 && bContent < 128 && dContent >= 2 && dContent < 128, `content ids ${bContent} and ${dContent}`);
  await fixture.store.close();
  await damageIndexEntry(join(fixture.directory, 'catalog.db'), bContent, dContent);
  await fixture.reopen();

  const report = await fixture.store.check({ readDataPercent: 100 });
  assert.ok(report.problems.some((problem) => problem.startsWith('catalog integrity: ')), `check reports the index: ${report.problems.join('\n')}`);

  const second = await backupFiles(fixture.store, 'node1', { '/data/b.bin': b });
  assert.notEqual(contentOf(fixture.directory, second, '/data/b.bin'), dContent, 'b.bin is not deduplicated into d.bin\'s content');
  assert.ok((await readBackup(fixture.store, second)).get('/data/b.bin')!.equals(b), 'b.bin restores as b.bin');

  await fixture.store.repair();
  const repaired = await fixture.store.check({ readDataPercent: 0 });
  assert.deepEqual(repaired.problems.filter((problem) => problem.startsWith('catalog integrity: ')), [], 'the index is rebuilt');
});

test('a restore refuses an entry whose content is not its size (another file\'s content), naming it', async (t) => {
  const fixture = await openStoreFixture();
  t.after(() => fixture.destroy());
  const b = await bytesOf('b', 100_000);
  const d = await bytesOf('d', 80_000);
  const first = await backupFiles(fixture.store, 'node1', { '/data/b.bin': b, '/data/d.bin': d });
  const database = new Database(join(fixture.directory, 'catalog.db'));
  try {
    database.prepare(`UPDATE entries SET content_id = ? WHERE backup_id = ? AND path = ?`)
      .run(contentOf(fixture.directory, first, '/data/d.bin'), first.id, Buffer.from('/data/b.bin'));
  } finally {
    database.close();
  }
  const damage = await damageOf(fixture.store, first, '/data/b.bin');
  assert.match(damage ?? '', /holds 80000 bytes, where the entry records 100000/);
  assert.equal(await damageOf(fixture.store, first, '/data/d.bin'), undefined);
});
