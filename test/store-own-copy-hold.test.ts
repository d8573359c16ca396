// A client's own copy of a chunk (client_chunks.pack_id: bytes another client stored first, which it sent
// encoded otherwise) must survive a deletion of the client's other backups while a backup that named the
// chunk as held runs. Regression (second review of 527dd34): the deletion forgot the client's row, own copy
// and all, and the running backup's flush wrote it back as the shared copy: the backup then restored the
// other client's encoding (the oracle own copies close), or, with the shared copy damaged, did not restore,
// and GC deleted the own copy's pack. An own copy answered "held" is now held in the catalog for the backup.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ChunkCodec } from '../src/chunkstore/codec';
import { Codec } from '../src/chunkstore/pack/pack-format';
import { backupFiles, fileEntry, openStoreFixture, readBackup } from './support/store-fixture';

test('an own copy named as held by a running backup outlives a deletion of the backup that stored it; the backup restores it', { timeout: 60_000 }, async (t) => {
  const fixture = await openStoreFixture({ resumeHoldSeconds: 0 });
  t.after(() => fixture.destroy());
  const store = fixture.store;
  const bytes = Buffer.from('an own copy held through a deletion. '.repeat(100)).subarray(0, 3000);
  const hash = createHash('sha256').update(bytes).digest();
  // node2 stores the bytes first (one chunk, as the server's encoder stores it).
  await backupFiles(store, 'node2', { '/f': bytes });
  // node1 sends the same chunk raw, where the store holds it compressed: its own copy.
  const payload = { codec: Codec.Raw, payload: bytes };
  assert.equal(new ChunkCodec(3).encode(bytes).codec, Codec.Zstd, 'the store holds it compressed');
  const first = await store.beginBackup('node1', { kind: 0, hostname: 'test', labels: {}, parentNumber: 0 });
  assert.deepEqual([...first.missingChunks(hash)], [1]);
  await first.receiveChunks([{ hash, rawSize: bytes.length, codec: payload.codec, payload: payload.payload }]);
  await first.addEntry(fileEntry('/f', bytes.length), first.chunkedContent(hash, () => '/f'));
  const b1 = await first.commit({}, 0);

  // node1's next backup is told it holds the chunk; its first backup is deleted before this one's flush.
  const second = await store.beginBackup('node1', { kind: 0, hostname: 'test', labels: {}, parentNumber: 0 });
  assert.deepEqual([...second.missingChunks(hash)], [0], 'held: its own copy');
  store.deleteBackups([b1]);
  await second.addEntry(fileEntry('/g', bytes.length), second.chunkedContent(hash, () => '/g'));
  const b2 = await second.commit({}, 0);
  await store.collectGarbage({ allPacks: true });

  const reader = store.openReader(b2);
  const codecs: number[] = [];
  const payloads: Buffer[] = [];
  try {
    for await (const page of reader.pages()) {
      for (const item of page) {
        if (!item.content) continue;
        for await (const chunk of item.content.chunks()) {
          const stored = await chunk.stored();
          codecs.push(stored.codec);
          payloads.push(stored.payload);
        }
      }
    }
  } finally {
    reader.close();
  }
  assert.equal(codecs.length, 1);
  assert.ok(payloads[0].equals(payload.payload), 'node1 restores the payload it sent, not node2\'s');
  assert.ok((await readBackup(store, b2)).get('/g')?.equals(bytes));
});
