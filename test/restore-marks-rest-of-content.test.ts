// Regression (red team reds3): a restore stops reading a file at its first damaged chunk, so only that chunk was
// marked. A pack replaced in the bucket (or any damage hitting several chunks of one file) left the file's later
// chunks unmarked: the next backup re-read the file the restore named, stored the marked chunk again, deduplicated
// against the unmarked damaged ones, said "done" with exit 0, and its restore failed for the same files. Now a read
// that meets damage in a content goes on verifying that content's other chunks (marking each damaged one) before it
// gives the content up, whichever way the restore reads it: as stored chunks, decoded and streamed, or whole.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { backupFiles, bytesOf, openStoreFixture, readBackup } from './support/store-fixture';
import { flipByte } from './support/fault-tools';
import { RECORD_HEADER_SIZE } from '../src/chunkstore/pack/pack-format';
import type { ContentSource } from '../src/chunkstore/read';
import type { RestoreResponse } from '../src/proto/cpsbackup';
import type { ByteBoundedWriter } from '../src/server/byte-bounded-writer';
import { storedChunksOf, streamStoredContent } from '../src/server/restore-stored-content';
import { decodedWholeOf, streamDecodedContent } from '../src/server/restore-decoded-content';
import { CorruptError } from '../src/common/errors';

interface Place { readonly packName: string; readonly offset: number; readonly storedSize: number; readonly isDamaged: number }

function placesOf(directory: string, path: string): Place[] {
  const database = new Database(join(directory, 'catalog.db'), { readonly: true });
  try {
    return database.prepare(
      `SELECT p.name AS packName, ch.offset, ch.stored_size AS storedSize, ch.is_damaged AS isDamaged
       FROM entries e JOIN content_chunks cc ON cc.content_id = e.content_id JOIN chunks ch ON ch.id = cc.chunk_id
       JOIN packs p ON p.id = ch.pack_id WHERE e.path = ? AND e.backup_id = (SELECT MAX(backup_id) FROM entries WHERE path = ?)
       ORDER BY cc.seq`).all(Buffer.from(path), Buffer.from(path)) as Place[];
  } finally {
    database.close();
  }
}

function packPath(directory: string, packName: string): string {
  return join(directory, 'packs', packName.slice(0, 2), `${packName}.pack`);
}

const sink = { write: () => Promise.resolve() } as unknown as ByteBoundedWriter<RestoreResponse>;

/** How the server's restore reads one content (restore-page.ts): each stops at the first damage and reports it. */
const readers: { name: string; read: (content: ContentSource) => Promise<string | undefined> }[] = [
  { name: 'streamed as stored chunks (protocol 2)', read: async (content) => (await streamStoredContent(sink, content)).damage },
  { name: 'streamed decoded (protocol 1)', read: async (content) => (await streamDecodedContent(sink, content)).damage },
  { name: 'whole, as stored chunks (a small file in a batch)', read: (content) => storedChunksOf(content).then(() => undefined, damageOf) },
  { name: 'whole, decoded (a small file for a protocol-1 client)', read: (content) => decodedWholeOf(content).then(() => undefined, damageOf) },
];

function damageOf(error: unknown): string {
  if (!(error instanceof CorruptError)) throw error;
  return error.message;
}

for (const { name, read } of readers) {
  test(`a restore that meets damage in a file marks every damaged chunk of it, so the next backup heals it whole: ${name}`, async (t) => {
    const fixture = await openStoreFixture();
    t.after(() => fixture.destroy());
    const bytes = await bytesOf('victim-several', 300_000);
    const first = await backupFiles(fixture.store, 'node1', { '/data/victim.bin': bytes });
    const places = placesOf(fixture.directory, '/data/victim.bin');
    assert.ok(places.length >= 6, `the file spans several chunks (${places.length})`);
    // Three chunks of the file damaged, as a pack replaced or rotten in several places leaves them.
    const hit = [1, 3, places.length - 1];
    for (const index of hit) {
      const place = places[index];
      await flipByte(packPath(fixture.directory, place.packName), place.offset + RECORD_HEADER_SIZE + Math.floor(place.storedSize / 2));
    }

    const reader = fixture.store.openReader(first);
    const found: string[] = [];
    try {
      for await (const page of reader.pages()) {
        for (const item of page) {
          if (item.content === undefined) continue;
          const damage = await read(item.content);
          if (damage !== undefined) found.push(damage);
        }
      }
    } finally {
      reader.close();
    }
    assert.equal(found.length, 1, 'the restore reports the file once');
    assert.deepEqual(placesOf(fixture.directory, '/data/victim.bin').map((place, index) => [index, place.isDamaged]).filter(([, isDamaged]) => isDamaged === 1),
      hit.map((index) => [index, 1]), 'every damaged chunk of the file is marked, not only the first one read');

    // The next backup of the same bytes stores every damaged chunk again: both backups read back whole.
    const second = await backupFiles(fixture.store, 'node1', { '/data/victim.bin': bytes });
    for (const backup of [first, second]) {
      const files = await readBackup(fixture.store, backup);
      assert.ok(files.get('/data/victim.bin')!.equals(bytes), `backup ${backup.number} restores victim.bin whole`);
    }
  });
}
