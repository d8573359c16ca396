// A session's own part in what its client is told it holds: chunks it sent or named before the file
// that uses them (which may never come), flushes in between, collections while it runs. Every row a
// session adds is backed by an entry or by the backup's hold, so the commit, the hold's expiry or a
// deletion forgets exactly what nothing references; and a running backup's holds never expire.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChunkStore } from '../src/chunkstore/store';
import { LocalBackend } from '../src/chunkstore/backend/local-backend';
import Database from 'better-sqlite3';
import type { BackupSession } from '../src/chunkstore/session';
import { addFile, backupFiles, bytesOf, fileEntry, openStoreFixture, SMALL_CHUNKS } from './support/store-fixture';
import { assertCheckClean, chunkHashes, chunksOf, isMissing, missingCount, rawChunks } from './support/client-knowledge';
import { DiskFullError } from '../src/common/errors';

/** Client-side chunking: node1 sends `content`'s chunks raw (as a client must, not knowing them), then a few other files flush. */
async function sentThenFlushed(store: ChunkStore, content: Buffer): Promise<BackupSession> {
  const session = await store.beginBackup('node1', { kind: 0, hostname: 'test', labels: {}, parentNumber: 0 });
  await session.receiveChunks(rawChunks(chunksOf(store, content)));
  for (let index = 0; index < 3; index++) await addFile(session, `/other/${index}`, Buffer.from(`other file ${index}\n`));
  return session;
}

/** With holds that end at once: abandoned and collected, node1 must send all of `content` again, and check agrees. */
async function assertForgottenOnceAbandoned(store: ChunkStore, session: BackupSession, content: Buffer): Promise<void> {
  await session.abandon(new Error('client went away'));
  await store.collectGarbage({ allPacks: true });
  const asked = await missingCount(store, 'node1', content);
  assert.equal(asked.missing, asked.of, 'node1 holds none of them: only node2 does');
  await assertCheckClean(store);
}

// Regression: a chunk the store already had, sent before the file that uses it, became the client's
// own at the next flush with nothing of the client keeping it, and no deletion or expiry ever named it
// (79b2958): after an abandon, or a commit without that file, "held" told the client that another client has it.
test('chunks a client sent for a file that never came are forgotten when its abandoned backup\'s hold ends', async (t) => {
  const fixture = await openStoreFixture({ resumeHoldSeconds: 0, entriesPerFlush: 1 });
  t.after(() => fixture.destroy());
  const shared = await bytesOf('sent, never named', 200_000);
  await backupFiles(fixture.store, 'node2', { '/shared.bin': shared });
  const session = await sentThenFlushed(fixture.store, shared);
  await assertCheckClean(fixture.store);
  await assertForgottenOnceAbandoned(fixture.store, session, shared);
});

test('chunks a client sent for a file that never came are forgotten when its backup commits without it', async (t) => {
  const fixture = await openStoreFixture({ entriesPerFlush: 1 });
  t.after(() => fixture.destroy());
  const shared = await bytesOf('sent, file failed', 200_000);
  await backupFiles(fixture.store, 'node2', { '/shared.bin': shared });
  const session = await sentThenFlushed(fixture.store, shared);
  await session.commit({}, 1);
  const asked = await missingCount(fixture.store, 'node1', shared);
  assert.equal(asked.missing, asked.of, 'no entry of node1 names them');
  await assertCheckClean(fixture.store);
});

// Regression: the sweep expired a running backup's holds; the chunks it had stored were then forgotten
// before the chunk list naming them came, and the session refused its own chunks.
test('a backup running past its hold time keeps its chunks known: a collection meanwhile expires no hold of a running backup', async (t) => {
  const fixture = await openStoreFixture({ resumeHoldSeconds: 0, entriesPerFlush: 1, packSize: 64 * 1024 });
  t.after(() => fixture.destroy());
  const content = await bytesOf('a long backup', 400_000);
  const session = await fixture.store.beginBackup('node1', { kind: 0, hostname: 'test', labels: {}, parentNumber: 0 });
  const hashes = chunkHashes(fixture.store, content);
  assert.ok(isMissing(session.missingChunks(hashes), 0));
  await session.receiveChunks(rawChunks(chunksOf(fixture.store, content)));
  // Enough other files to flush and seal packs, so the chunks are recorded and held; then a collection.
  for (let index = 0; index < 3; index++) await addFile(session, `/other/${index}`, await bytesOf(`other ${index}`, 70_000));
  await fixture.store.collectGarbage({ allPacks: true });
  await session.addEntry(fileEntry('/long.bin', content.length), session.chunkedContent(hashes, () => '/long.bin'));
  await session.commit({}, 4);
  assert.equal((await missingCount(fixture.store, 'node1', content)).missing, 0, 'its committed backup references them');
  await assertCheckClean(fixture.store);
});

// Regression: a backup that ran longer than resume_hold failed with holds already past their time,
// so its retry found nothing held (and, until the next collection, its client was still told "held").
test('a failed backup\'s holds last resume_hold from its failure, however long it ran', async (t) => {
  const fixture = await openStoreFixture({ entriesPerFlush: 1 });
  t.after(() => fixture.destroy());
  const content = await bytesOf('a backup that ran for days', 200_000);
  const session = await fixture.store.beginBackup('node1', { kind: 0, hostname: 'test', labels: {}, parentNumber: 0 });
  await addFile(session, '/days.bin', content);
  // As if the session had run past its hold time: every hold it took is due.
  const catalog = new Database(join(fixture.directory, 'catalog.db'));
  try {
    assert.ok(catalog.prepare('UPDATE chunk_holds SET expires_at = 1').run().changes > 0);
  } finally {
    catalog.close();
  }
  await fixture.store.collectGarbage({ allPacks: true });
  await session.abandon(new Error('client went away'));
  await fixture.store.collectGarbage({ allPacks: true });
  assert.equal((await missingCount(fixture.store, 'node1', content)).missing, 0, 'held for the retry from the failure on');
  await assertCheckClean(fixture.store);
});

test('chunks of a streamed file that failed mid-way are forgotten when its abandoned backup\'s hold ends', async (t) => {
  const fixture = await openStoreFixture({ resumeHoldSeconds: 0, entriesPerFlush: 1 });
  t.after(() => fixture.destroy());
  const shared = await bytesOf('streamed, never finished', 200_000);
  await backupFiles(fixture.store, 'node2', { '/shared.bin': shared });
  const session = await fixture.store.beginBackup('node1', { kind: 0, hostname: 'test', labels: {}, parentNumber: 0 });
  const writer = session.openContent(() => '/data/failed.bin');
  // Server-side chunking: the chunks cut so far are known to the store (node2's); the file's read then fails.
  await writer.write(shared.subarray(0, 150_000));
  for (let index = 0; index < 3; index++) await addFile(session, `/other/${index}`, Buffer.from(`other file ${index}\n`));
  await assertCheckClean(fixture.store);
  await assertForgottenOnceAbandoned(fixture.store, session, shared);
});

// Regression (reviews of this session): an abandoned backup must leave its retry asked for another
// client's chunks exactly as for its own sent in the same stretch (since its last flush). Holding what it
// used while its open pack was dropped (a full disk drops it to make room; a failed write ends the pack
// writer) told the retry which chunks another client holds; so did the reverse, and so did keeping the
// packs of the stretch sealed before the open one (pack_size reached) while the rest went.
test('an abandoned backup leaves its retry asked for another client\'s chunks as for its own, however it ended and wherever its packs were', async (t) => {
  const ways = [
    { name: 'the client went away', cause: (): Error => new Error('the client went away'), isFailingPut: false, isAllHeld: true },
    { name: 'a full disk', cause: (): Error => new DiskFullError('store is full: cannot write the staged pack'), isFailingPut: false, isAllHeld: false },
    { name: 'a pack write that fails', cause: (): Error => new Error('EIO: i/o error, write'), isFailingPut: true, isAllHeld: false },
  ];
  for (const way of ways) {
    for (const packSize of [64 * 1024, 64 * 1024 * 1024]) {
      const label = `${way.name}, pack_size ${packSize}`;
      const directory = await mkdtemp(join(tmpdir(), 'cpsbackup-store-'));
      const backend = new FailablePutBackend(directory);
      const store = await ChunkStore.open(directory, { chunker: SMALL_CHUNKS, compressionLevel: 3, encoderThreads: 0, resumeHoldSeconds: 3600, packSize, backend });
      t.after(async () => {
        await store.close().catch(() => undefined);
        await rm(directory, { recursive: true, force: true });
      });
      const others = await bytesOf(`held by node2 (${label})`, 200_000);
      const ownEarly = await bytesOf(`sent first (${label})`, 400_000);
      const ownLate = await bytesOf(`sent last (${label})`, 200_000);
      await backupFiles(store, 'node2', { '/others.bin': others });
      const session = await store.beginBackup('node1', { kind: 0, hostname: 'test', labels: {}, parentNumber: 0 });
      // With 64 KiB packs, those of the first chunks are sealed and stored before the others are sent.
      await session.receiveChunks(rawChunks(chunksOf(store, ownEarly)));
      await session.receiveChunks(rawChunks(chunksOf(store, others)));
      backend.isPutFailing = way.isFailingPut;
      await session.receiveChunks(rawChunks(chunksOf(store, ownLate))).catch(() => undefined);
      await session.abandon(way.cause());
      backend.isPutFailing = false;
      const asked = [await missingCount(store, 'node1', others), await missingCount(store, 'node1', ownEarly), await missingCount(store, 'node1', ownLate)];
      // All of each (nothing of the stretch held), or none of any (all of it held for the retry).
      assert.deepEqual(asked.map(({ missing }) => missing), asked.map(({ of }) => (way.isAllHeld ? 0 : of)),
        `${label}: the retry is asked for ${asked.map(({ missing, of }) => `${missing} of ${of}`).join(', ')} (node2's, its first, its last)`);
      await assertCheckClean(store, label);
    }
  }
});

/** The store's local backend, whose pack puts fail (EIO) while isPutFailing is set. */
class FailablePutBackend extends LocalBackend {
  isPutFailing = false;

  override async putPack(name: string, stagedFile: string): Promise<void> {
    if (this.isPutFailing) throw Object.assign(new Error(`EIO: i/o error, link '${stagedFile}'`), { code: 'EIO' });
    await super.putPack(name, stagedFile);
  }
}
