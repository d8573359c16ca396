// Regression (red team F4): damage a restore found was reported and logged, never marked. The next backup
// of the same bytes deduplicated against the damaged chunk ("0 B new", exit 0) and its restore failed the
// same way; only check marked chunks. A protocol-2 restore checked record headers only, so a flipped payload
// byte was the client's to find and the server never knew. Now the store verifies what a restore reads
// (the payload's hash where the catalog knows it) and marks a chunk that does not read back damaged, as
// check does: the next backup holding its bytes stores them again, and every backup's file reads back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { backupFiles, bytesOf, openStoreFixture, readBackup } from './support/store-fixture';
import { flipByte } from './support/fault-tools';
import { RECORD_HEADER_SIZE } from '../src/chunkstore/pack/pack-format';
import type { ChunkStore, BackupRecord } from '../src/chunkstore/store';
import { CorruptError } from '../src/common/errors';

interface Place { readonly packName: string; readonly offset: number; readonly storedSize: number; readonly isDamaged: number }

function placeOf(directory: string, path: string, seq: number): Place {
  const database = new Database(join(directory, 'catalog.db'), { readonly: true });
  try {
    return database.prepare(
      `SELECT p.name AS packName, ch.offset, ch.stored_size AS storedSize, ch.is_damaged AS isDamaged
       FROM entries e JOIN content_chunks cc ON cc.content_id = e.content_id JOIN chunks ch ON ch.id = cc.chunk_id
       JOIN packs p ON p.id = ch.pack_id WHERE e.path = ? AND cc.seq = ? ORDER BY e.backup_id DESC LIMIT 1`).get(Buffer.from(path), seq) as Place;
  } finally {
    database.close();
  }
}

function packPath(directory: string, packName: string): string {
  return join(directory, 'packs', packName.slice(0, 2), `${packName}.pack`);
}

/** Reads every content of the backup as a protocol-2 restore hands it on (stored()) or decodes it; returns the damage messages. */
async function restoreDamage(store: ChunkStore, backup: BackupRecord, how: 'stored' | 'decoded'): Promise<string[]> {
  const damage: string[] = [];
  const reader = store.openReader(backup);
  try {
    for await (const page of reader.pages()) {
      for (const item of page) {
        if (item.content === undefined) continue;
        try {
          for await (const chunk of item.content.chunks()) await (how === 'stored' ? chunk.stored() : chunk.decode());
        } catch (error) {
          if (!(error instanceof CorruptError)) throw error;
          damage.push(`${item.entry.path.toString()}: ${error.message}`);
        }
      }
    }
  } finally {
    reader.close();
  }
  return damage;
}

const cases: { name: string; how: 'stored' | 'decoded'; size: number; at: (place: Place) => number }[] = [
  { name: 'a payload byte, read as stored chunks (small file)', how: 'stored', size: 300_000, at: (place) => place.offset + RECORD_HEADER_SIZE + Math.floor(place.storedSize / 2) },
  { name: 'a header byte, read as stored chunks (small file)', how: 'stored', size: 300_000, at: (place) => place.offset + 20 },
  { name: 'a payload byte, decoded (small file)', how: 'decoded', size: 300_000, at: (place) => place.offset + RECORD_HEADER_SIZE + Math.floor(place.storedSize / 2) },
  // Past 16 MiB a content's chunk list is paged from the catalog as it streams (content-source.ts pagedContent).
  { name: 'a payload byte, read as stored chunks (big file)', how: 'stored', size: 17 * 1024 * 1024, at: (place) => place.offset + RECORD_HEADER_SIZE + Math.floor(place.storedSize / 2) },
];

for (const { name, how, size, at } of cases) {
  test(`damage a restore finds is marked and healed by the next backup: ${name}`, async (t) => {
    const fixture = await openStoreFixture();
    t.after(() => fixture.destroy());
    const bytes = await bytesOf(`victim-${size}`, size);
    const other = await bytesOf('other', 100_000);
    const first = await backupFiles(fixture.store, 'node1', { '/data/victim.bin': bytes, '/data/other.bin': other });
    const place = placeOf(fixture.directory, '/data/victim.bin', 1);
    assert.equal(place.isDamaged, 0);
    await flipByte(packPath(fixture.directory, place.packName), at(place));

    const damage = await restoreDamage(fixture.store, first, how);
    assert.equal(damage.length, 1, damage.join('\n'));
    assert.match(damage[0], /^\/data\/victim\.bin: /);
    assert.equal(placeOf(fixture.directory, '/data/victim.bin', 1).isDamaged, 1, 'the chunk the restore found damaged is marked');

    // The next backup of the same bytes does not deduplicate against the damaged copy: it stores it again, which heals the file in both backups.
    const second = await backupFiles(fixture.store, 'node1', { '/data/victim.bin': bytes, '/data/other.bin': other });
    assert.equal(placeOf(fixture.directory, '/data/victim.bin', 1).isDamaged, 0);
    for (const backup of [first, second]) {
      const files = await readBackup(fixture.store, backup);
      assert.ok(files.get('/data/victim.bin')!.equals(bytes), `backup ${backup.number} restores victim.bin whole`);
      assert.deepEqual(await restoreDamage(fixture.store, backup, 'stored'), []);
    }
  });
}
