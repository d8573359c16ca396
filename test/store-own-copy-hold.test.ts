// A client's own copy of a chunk (client_chunks.pack_id: bytes another client stored first, which it sent
// encoded otherwise) must survive a deletion of the client's other backups while a backup that named the
// chunk as held runs. Regression (second review of 527dd34): the deletion forgot the client's row, own copy
// and all, and the running backup's flush wrote it back as the shared copy: the backup then restored the
// other client's encoding (the oracle own copies close), or, with the shared copy damaged, did not restore,
// and GC deleted the own copy's pack. A third review found the same through a file the backup reuses from
// its parent, and an oracle in the first fix (durable holds kept after an abandon for the own copies alone).
// A deletion now forgets nothing of a client that a running backup of that client holds, until it ends.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ChunkCodec } from '../src/chunkstore/codec';
import { Codec } from '../src/chunkstore/pack/pack-format';
import type { BackupRecord, ChunkStore } from '../src/chunkstore/store';
import { backupFiles, fileEntry, openStoreFixture, readBackup } from './support/store-fixture';

const BYTES = Buffer.from('an own copy held through a deletion. '.repeat(100)).subarray(0, 3000);
const HASH = createHash('sha256').update(BYTES).digest();

/** node2 stores BYTES (compressed, as the server's encoder stores them), then node1 sends them raw (its own copy), with `others`. */
async function ownCopyOfNode1(store: ChunkStore, others: readonly Buffer[] = []): Promise<BackupRecord> {
  await backupFiles(store, 'node2', { '/f': BYTES });
  assert.equal(new ChunkCodec(3).encode(BYTES).codec, Codec.Zstd, 'the store holds it compressed');
  const first = await beginNode1(store);
  const all = [BYTES, ...others];
  const hashes = Buffer.concat(all.map((bytes) => createHash('sha256').update(bytes).digest()));
  assert.equal(first.missingChunks(hashes)[0], (1 << all.length) - 1);
  await first.receiveChunks(all.map((bytes) => ({ hash: createHash('sha256').update(bytes).digest(), rawSize: bytes.length, codec: Codec.Raw, payload: bytes })));
  for (const [index, bytes] of all.entries()) {
    await first.addEntry(fileEntry(`/f${index}`, bytes.length), first.chunkedContent(createHash('sha256').update(bytes).digest(), () => `/f${index}`));
  }
  return first.commit({}, 0);
}

/** Makes the store's holds.extendForRetry (a write of every abandon) fail, `times` times; returns what undoes it. */
function failingRetryHolds(store: ChunkStore, code: string, times = Number.POSITIVE_INFINITY): () => void {
  const holds = (store as unknown as { catalog: { holds: { extendForRetry: (...args: unknown[]) => void } } }).catalog.holds;
  const extendForRetry = holds.extendForRetry;
  let failures = 0;
  holds.extendForRetry = (...args: unknown[]) => {
    if (failures++ < times) throw Object.assign(new Error(`catalog write failed (${code})`), { code });
    extendForRetry.apply(holds, args);
  };
  return () => { holds.extendForRetry = extendForRetry; };
}

/** A backup of node1 begun. */
function beginNode1(store: ChunkStore): ReturnType<ChunkStore['beginBackup']> {
  return store.beginBackup('node1', { kind: 0, hostname: 'test', labels: {}, parentNumber: 0 });
}

/**
 * A store (holds for a retry kept that long) where node1 has its own copy of BYTES and one of a chunk only it
 * stores (`text` repeated), both in backup b1; `both`: their two hashes.
 */
async function ownCopyAndAlone(t: TestContext, resumeHoldSeconds: number, text: string): Promise<{ store: ChunkStore; b1: BackupRecord; both: Buffer }> {
  const fixture = await openStoreFixture({ resumeHoldSeconds });
  t.after(() => fixture.destroy());
  const alone = Buffer.from(text.repeat(100)).subarray(0, 2000);
  const b1 = await ownCopyOfNode1(fixture.store, [alone]);
  return { store: fixture.store, b1, both: Buffer.concat([HASH, createHash('sha256').update(alone).digest()]) };
}

/** The payloads a restore of the backup reads, in order. */
async function restoredPayloads(store: ChunkStore, backup: BackupRecord): Promise<Buffer[]> {
  const payloads: Buffer[] = [];
  const reader = store.openReader(backup);
  try {
    for await (const page of reader.pages()) {
      for (const item of page) {
        if (!item.content) continue;
        for await (const chunk of item.content.chunks()) payloads.push((await chunk.stored()).payload);
      }
    }
  } finally {
    reader.close();
  }
  return payloads;
}

test('an own copy named as held by a running backup outlives a deletion of the backup that stored it; the backup restores it', { timeout: 60_000 }, async (t) => {
  const fixture = await openStoreFixture({ resumeHoldSeconds: 0 });
  t.after(() => fixture.destroy());
  const store = fixture.store;
  const b1 = await ownCopyOfNode1(store);
  // node1's next backup is told it holds the chunk; its first backup is deleted before this one's flush.
  const second = await beginNode1(store);
  assert.deepEqual([...second.missingChunks(HASH)], [0], 'held: its own copy');
  store.deleteBackups([b1]);
  await second.addEntry(fileEntry('/g', BYTES.length), second.chunkedContent(HASH, () => '/g'));
  const b2 = await second.commit({}, 0);
  await store.collectGarbage({ allPacks: true });
  assert.deepEqual(await restoredPayloads(store, b2), [BYTES], 'node1 restores the payload it sent, not node2\'s');
  assert.ok((await readBackup(store, b2)).get('/g')?.equals(BYTES));
});

test('an own copy of a file a running backup reuses from its parent outlives the parent\'s deletion', { timeout: 60_000 }, async (t) => {
  const fixture = await openStoreFixture({ resumeHoldSeconds: 0 });
  t.after(() => fixture.destroy());
  const store = fixture.store;
  const b1 = await ownCopyOfNode1(store);
  const second = await store.beginBackup('node1', { kind: 0, hostname: 'test', labels: {}, parentNumber: b1.number });
  const reused = second.parentContent(Buffer.from('/f0'));
  assert.ok(reused !== undefined, 'the unchanged file\'s content, from the parent');
  store.deleteBackups([b1]);
  await second.addEntry(fileEntry('/f0', BYTES.length), reused);
  const b2 = await second.commit({}, 0);
  await store.collectGarbage({ allPacks: true });
  assert.deepEqual(await restoredPayloads(store, b2), [BYTES], 'node1 restores the payload it sent, not node2\'s');
});

test('after an abandoned backup and a deletion, a client is asked alike for an own copy and for a chunk only it stored', { timeout: 60_000 }, async (t) => {
  const { store, b1, both } = await ownCopyAndAlone(t, 3600, 'bytes only node1 stores. ');
  // Held for a retry an hour: what the abandoned backup kept for it must be alike for both.
  const abandoned = await beginNode1(store);
  assert.deepEqual([...abandoned.missingChunks(both)], [0], 'both held');
  await abandoned.abandon(new Error('the client went away'));
  store.deleteBackups([b1]);
  const next = await beginNode1(store);
  t.after(() => next.abandon());
  assert.deepEqual([...next.missingChunks(both)], [3], 'both asked for: nothing tells it that node2 stored one of them');
});

// Regression (fourth review): an abandon that could not finish (its catalog write failed) ran no forgetting,
// and what a deletion had deferred for it stayed: the client's next backup was told "held" for an own copy
// and asked for a chunk only it had stored. A backup now starts by looking at what was deferred.
test('what a deletion deferred for a backup whose abandon failed is looked at before the next backup is answered', { timeout: 60_000 }, async (t) => {
  const { store, b1, both } = await ownCopyAndAlone(t, 0, 'bytes only node1 stores, again. ');
  const running = await beginNode1(store);
  assert.deepEqual([...running.missingChunks(both)], [0], 'both held');
  store.deleteBackups([b1]);
  // The abandon's catalog write fails (twice: the first failure's retry too): the running row stays.
  const undo = failingRetryHolds(store, 'SQLITE_IOERR');
  await running.abandon(new Error('the client went away'));
  undo();
  const next = await beginNode1(store);
  t.after(() => next.abandon());
  assert.deepEqual([...next.missingChunks(both)], [3], 'both asked for: nothing tells it that node2 stored one of them');
});

// Regression (fifth review): the deferral of a backup whose abandon failed was looked at again only when
// another backup started, so one already running was answered from it; and an abandon marked its session as
// ending before its first (failed) attempt, so a forgetting between that attempt and its retry took what the
// session still used, and the retry's flush recorded the shared copy as the client's.
test('what a failed abandon deferred is looked at when its session ends: a backup already running is not answered from it', { timeout: 60_000 }, async (t) => {
  const { store, b1, both } = await ownCopyAndAlone(t, 0, 'bytes only node1 stores, once more. ');
  const failing = await beginNode1(store);
  assert.deepEqual([...failing.missingChunks(both)], [0]);
  const running = await beginNode1(store);
  t.after(() => running.abandon());
  store.deleteBackups([b1]);
  const undo = failingRetryHolds(store, 'SQLITE_IOERR');
  await failing.abandon(new Error('the client went away'));
  undo();
  assert.deepEqual([...running.missingChunks(both)], [3], 'both asked for');
});

test('a forgetting between an abandon\'s failed attempt and its retry keeps what the session uses', { timeout: 60_000 }, async (t) => {
  const fixture = await openStoreFixture({ resumeHoldSeconds: 3600 });
  t.after(() => fixture.destroy());
  const store = fixture.store;
  const b1 = await ownCopyOfNode1(store);
  const session = await beginNode1(store);
  assert.deepEqual([...session.missingChunks(HASH)], [0]);
  await session.addEntry(fileEntry('/a', BYTES.length), session.chunkedContent(HASH, () => '/a'));
  store.deleteBackups([b1]);
  // The first attempt fails on a full disk; while the reserve is given up, a backup of the same client starts.
  const undo = failingRetryHolds(store, 'SQLITE_FULL', 1);
  const dependencies = (session as unknown as { dependencies: { onCleanupFailure: (error: unknown) => Promise<void> } }).dependencies;
  const onCleanupFailure = dependencies.onCleanupFailure;
  let meanwhile: Awaited<ReturnType<ChunkStore['beginBackup']>> | undefined;
  dependencies.onCleanupFailure = async (error) => {
    meanwhile = await beginNode1(store);
    await onCleanupFailure(error);
  };
  await session.abandon(new Error('the client went away'));
  undo();
  assert.ok(meanwhile !== undefined, 'a backup started between the two attempts');
  await meanwhile.abandon();
  // The retry uses the chunk as held, and commits.
  const retry = await beginNode1(store);
  assert.deepEqual([...retry.missingChunks(HASH)], [0]);
  await retry.addEntry(fileEntry('/a', BYTES.length), retry.chunkedContent(HASH, () => '/a'));
  const b2 = await retry.commit({}, 0);
  await store.collectGarbage({ allPacks: true });
  assert.deepEqual(await restoredPayloads(store, b2), [BYTES], 'node1 restores the payload it sent, not node2\'s');
});
