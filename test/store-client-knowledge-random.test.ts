// Deletions, commits, abandoned attempts and expired holds forget a client's chunks by looking at
// candidates only (ClientChunksTable); this drives random sequences of them over three clients that
// share bytes (files streamed, or chunked by the client and sent or named, some never finished;
// flushes and collections inside sessions) and, after every step, compares the client's knowledge
// with a scan of all its rows: nothing known that no backup or hold of the client references, and
// nothing referenced forgotten.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { BackupRecord } from '../src/chunkstore/store';
import { addFile, bytesOf, fileEntry, openStoreFixture } from './support/store-fixture';
import { assertCheckClean, chunksOf, hashOf, isMissing, rawChunks } from './support/client-knowledge';

const CLIENTS = ['node1', 'node2', 'node3'] as const;
const STEPS = 70;

/** A small seeded generator (mulberry32), so that a failing sequence can be replayed from its seed. */
function randomFrom(seed: number): (below: number) => number {
  let state = seed >>> 0;
  return (below) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return Math.floor((((value ^ (value >>> 14)) >>> 0) / 4294967296) * below);
  };
}

/** Chunks of one client's backups (running too) and live holds that it is not told it holds. */
const FORGOTTEN_BUT_REFERENCED = `
  SELECT COUNT(*) FROM (
    SELECT b.client_id, ch.hash FROM backups b JOIN entries e ON e.backup_id = b.id
      JOIN content_chunks cc ON cc.content_id = e.content_id JOIN chunks ch ON ch.id = cc.chunk_id
    UNION SELECT h.client_id, ch.hash FROM chunk_holds h JOIN chunks ch ON ch.id = h.chunk_id
      WHERE h.expires_at > ? OR EXISTS (SELECT 1 FROM backups r WHERE r.id = h.backup_id AND r.state = 'running')
  ) referenced WHERE NOT EXISTS (SELECT 1 FROM client_chunks k WHERE k.client_id = referenced.client_id AND k.hash = referenced.hash)`;

async function runSequence(seed: number, resumeHoldSeconds: number): Promise<void> {
  const random = randomFrom(seed);
  // Two entries a flush: sessions flush between their files, so rows go in before the session ends.
  const fixture = await openStoreFixture({ resumeHoldSeconds, entriesPerFlush: 2 });
  const reader = new Database(join(fixture.directory, 'catalog.db'), { readonly: true });
  try {
    // Pieces of ~3 chunks each; files of one or two pieces, so contents share chunks in several ways.
    const pieces = await Promise.all(Array.from({ length: 8 }, (_, index) => bytesOf(`piece ${index}`, 48_000)));
    const fileOf = (): Buffer => (random(3) === 0 ? Buffer.concat([pieces[random(8)], pieces[random(8)]]) : pieces[random(8)]);
    const committed: BackupRecord[] = [];
    const store = fixture.store;
    const assertExact = async (label: string): Promise<void> => {
      await assertCheckClean(store, label);
      assert.equal(reader.prepare(FORGOTTEN_BUT_REFERENCED).pluck().get(Date.now()), 0, `${label}: a referenced chunk was forgotten`);
    };
    for (let step = 0; step < STEPS; step++) {
      const client = CLIENTS[random(CLIENTS.length)];
      const operation = random(10);
      let done: string;
      if (operation <= 4) {
        const session = await store.beginBackup(client, { kind: 0, hostname: 'test', labels: {}, parentNumber: 0 });
        const files = 1 + random(4);
        for (let index = 0; index < files; index++) {
          const content = fileOf();
          if (random(2) === 0) {
            await addFile(session, `/f${index}`, content);
          } else {
            // Client-side chunking: what the server lacks is sent, and the file may fail before its chunk list.
            const chunks = chunksOf(store, content);
            const hashes = Buffer.concat(chunks.map(hashOf));
            const missing = session.missingChunks(hashes);
            await session.receiveChunks(rawChunks(chunks.filter((_, index) => isMissing(missing, index))));
            if (random(4) !== 0) await session.addEntry(fileEntry(`/f${index}`, content.length), session.chunkedContent(hashes, () => `/f${index}`));
          }
          if (random(4) === 0) {
            await store.collectGarbage({ allPacks: false });
            await assertExact(`seed ${seed}, hold ${resumeHoldSeconds} s, step ${step}, a collection during ${client}'s backup`);
          }
        }
        if (operation <= 2) {
          committed.push(await session.commit({}, 0));
          done = `${client} committed ${files} files`;
        } else {
          await session.abandon(new Error('client went away'));
          done = `${client} abandoned a backup of ${files} files`;
        }
      } else if (operation <= 7 && committed.length > 0) {
        const doomed = committed.splice(random(committed.length), 1 + random(2));
        store.deleteBackups(doomed);
        done = `deleted ${doomed.map((backup) => `${backup.clientName}#${backup.number}`).join(', ')}`;
      } else {
        await store.collectGarbage({ allPacks: random(2) === 0 });
        done = 'collected garbage';
      }
      await assertExact(`seed ${seed}, hold ${resumeHoldSeconds} s, step ${step} (${done})`);
    }
  } finally {
    reader.close();
    await fixture.destroy();
  }
}

for (const seed of [1, 2, 3]) {
  test(`random commits, abandons, deletions and collections keep each client's knowledge exact (seed ${seed}, holds that expire at once)`, async () => {
    await runSequence(seed, 0);
  });
}

test('random commits, abandons, deletions and collections keep each client\'s knowledge exact (seed 4, holds kept for an hour)', async () => {
  await runSequence(4, 3600);
});
