// Deletions, commits, abandoned attempts and expired holds forget a client's chunks by looking at
// candidates only (ClientChunksTable); this drives random sequences of them over three clients that
// share bytes and, after every step, compares the client's knowledge with a scan of all its rows:
// nothing known that no backup or hold of the client references, and nothing referenced forgotten.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import type { BackupRecord, ChunkStore } from '../src/chunkstore/store';
import { addFile, bytesOf, fileEntry, openStoreFixture } from './support/store-fixture';

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
    UNION SELECT h.client_id, ch.hash FROM chunk_holds h JOIN chunks ch ON ch.id = h.chunk_id WHERE h.expires_at > ?
  ) referenced WHERE NOT EXISTS (SELECT 1 FROM client_chunks k WHERE k.client_id = referenced.client_id AND k.hash = referenced.hash)`;

function hashesOf(store: ChunkStore, content: Buffer): Buffer {
  const chunker = store.chunkerFactory.create();
  return Buffer.concat([...chunker.push(content), ...chunker.finish()].map((chunk) => createHash('sha256').update(chunk).digest()));
}

async function runSequence(seed: number, resumeHoldSeconds: number): Promise<void> {
  const random = randomFrom(seed);
  const fixture = await openStoreFixture({ resumeHoldSeconds });
  const reader = new Database(join(fixture.directory, 'catalog.db'), { readonly: true });
  try {
    // Pieces of ~3 chunks each; files of one or two pieces, so contents share chunks in several ways.
    const pieces = await Promise.all(Array.from({ length: 8 }, (_, index) => bytesOf(`piece ${index}`, 48_000)));
    const fileOf = (): Buffer => (random(3) === 0 ? Buffer.concat([pieces[random(8)], pieces[random(8)]]) : pieces[random(8)]);
    const committed: BackupRecord[] = [];
    const store = fixture.store;
    for (let step = 0; step < STEPS; step++) {
      const client = CLIENTS[random(CLIENTS.length)];
      const operation = random(10);
      let done: string;
      if (operation <= 4) {
        const session = await store.beginBackup(client, { kind: 0, hostname: 'test', labels: {}, parentNumber: 0 });
        const files = 1 + random(4);
        for (let index = 0; index < files; index++) {
          const content = fileOf();
          const hashes = hashesOf(store, content);
          const missing = session.missingChunks(hashes);
          if (random(2) === 0 && missing.every((byte) => byte === 0)) {
            // The protocol's other path: a chunk list of what the server said this client holds.
            await session.addEntry(fileEntry(`/f${index}`, content.length), session.chunkedContent(hashes, () => `/f${index}`));
          } else {
            await addFile(session, `/f${index}`, content);
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
      const label = `seed ${seed}, hold ${resumeHoldSeconds} s, step ${step} (${done})`;
      assert.deepEqual((await store.check({ readDataPercent: 0 })).problems, [], label);
      assert.equal(reader.prepare(FORGOTTEN_BUT_REFERENCED).pluck().get(Date.now()), 0, `${label}: a referenced chunk was forgotten`);
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
