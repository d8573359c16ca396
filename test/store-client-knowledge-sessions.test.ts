// A session's own part in what its client is told it holds: chunks it sent or named before the file
// that uses them (which may never come), flushes in between, collections while it runs. Every row a
// session adds is backed by an entry or by the backup's hold, so the commit, the hold's expiry or a
// deletion forgets exactly what nothing references; and a running backup's holds never expire.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { ChunkStore } from '../src/chunkstore/store';
import type { BackupSession } from '../src/chunkstore/session';
import { Codec } from '../src/chunkstore/pack/pack-format';
import { addFile, backupFiles, bytesOf, fileEntry, openStoreFixture } from './support/store-fixture';

function chunksOf(store: ChunkStore, content: Buffer): Buffer[] {
  const chunker = store.chunkerFactory.create();
  return [...chunker.push(content), ...chunker.finish()].map((chunk) => Buffer.from(chunk));
}

function hashOf(chunk: Buffer): Buffer {
  return createHash('sha256').update(chunk).digest();
}

async function missingOf(store: ChunkStore, client: string, content: Buffer): Promise<{ missing: number; of: number }> {
  const hashes = Buffer.concat(chunksOf(store, content).map(hashOf));
  const session = await store.beginBackup(client, { kind: 0, hostname: 'test', labels: {}, parentNumber: 0 });
  try {
    const bitmap = session.missingChunks(hashes);
    const of = hashes.length / 32;
    let missing = 0;
    for (let index = 0; index < of; index++) if ((bitmap[index >> 3] & (1 << (index & 7))) !== 0) missing++;
    return { missing, of };
  } finally {
    await session.abandon(new Error('only asked'));
  }
}

/** Client-side chunking: node1 sends `content`'s chunks raw (as a client must, not knowing them), then a few other files flush. */
async function sentThenFlushed(store: ChunkStore, content: Buffer): Promise<BackupSession> {
  const session = await store.beginBackup('node1', { kind: 0, hostname: 'test', labels: {}, parentNumber: 0 });
  await session.receiveChunks(chunksOf(store, content).map((chunk) => ({ hash: hashOf(chunk), rawSize: chunk.length, codec: Codec.Raw, payload: chunk })));
  for (let index = 0; index < 3; index++) await addFile(session, `/other/${index}`, Buffer.from(`other file ${index}\n`));
  return session;
}

async function assertCheckClean(store: ChunkStore): Promise<void> {
  assert.deepEqual((await store.check({ readDataPercent: 0 })).problems, []);
}

test('chunks a client sent for a file that never came are forgotten when its abandoned backup\'s hold ends', async (t) => {
  const fixture = await openStoreFixture({ resumeHoldSeconds: 0, entriesPerFlush: 1 });
  t.after(() => fixture.destroy());
  const shared = await bytesOf('sent, never named', 200_000);
  await backupFiles(fixture.store, 'node2', { '/shared.bin': shared });
  const session = await sentThenFlushed(fixture.store, shared);
  await assertCheckClean(fixture.store);
  await session.abandon(new Error('client went away'));
  await fixture.store.collectGarbage({ allPacks: true });
  const asked = await missingOf(fixture.store, 'node1', shared);
  assert.equal(asked.missing, asked.of, 'node1 holds none of them: only node2 does');
  await assertCheckClean(fixture.store);
});

test('chunks a client sent for a file that never came are forgotten when its backup commits without it', async (t) => {
  const fixture = await openStoreFixture({ entriesPerFlush: 1 });
  t.after(() => fixture.destroy());
  const shared = await bytesOf('sent, file failed', 200_000);
  await backupFiles(fixture.store, 'node2', { '/shared.bin': shared });
  const session = await sentThenFlushed(fixture.store, shared);
  await session.commit({}, 1);
  const asked = await missingOf(fixture.store, 'node1', shared);
  assert.equal(asked.missing, asked.of, 'no entry of node1 names them');
  await assertCheckClean(fixture.store);
});

test('a backup running past its hold time keeps its chunks known: a collection meanwhile expires no hold of a running backup', async (t) => {
  const fixture = await openStoreFixture({ resumeHoldSeconds: 0, entriesPerFlush: 1, packSize: 64 * 1024 });
  t.after(() => fixture.destroy());
  const content = await bytesOf('a long backup', 400_000);
  const chunks = chunksOf(fixture.store, content);
  const session = await fixture.store.beginBackup('node1', { kind: 0, hostname: 'test', labels: {}, parentNumber: 0 });
  const hashes = Buffer.concat(chunks.map(hashOf));
  assert.equal(session.missingChunks(hashes).some((byte) => byte !== 0), true);
  await session.receiveChunks(chunks.map((chunk) => ({ hash: hashOf(chunk), rawSize: chunk.length, codec: Codec.Raw, payload: chunk })));
  // Enough other files to flush and seal packs, so the chunks are recorded and held; then a collection.
  for (let index = 0; index < 3; index++) await addFile(session, `/other/${index}`, await bytesOf(`other ${index}`, 70_000));
  await fixture.store.collectGarbage({ allPacks: true });
  await session.addEntry(fileEntry('/long.bin', content.length), session.chunkedContent(hashes, () => '/long.bin'));
  await session.commit({}, 4);
  assert.equal((await missingOf(fixture.store, 'node1', content)).missing, 0, 'its committed backup references them');
  await assertCheckClean(fixture.store);
});
