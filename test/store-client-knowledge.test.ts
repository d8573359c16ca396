// What a client may hear "the store has it" about: only chunks its own backups (or its held retries)
// still reference. A deleted backup takes that knowledge with it, even while another client keeps
// the same bytes stored; otherwise the answer would tell the client that someone else still has them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Catalog } from '../src/chunkstore/catalog/catalog';
import type { BackupRecord, ChunkStore } from '../src/chunkstore/store';
import type { BackupSession } from '../src/chunkstore/session';
import { checkReportLines, isClean } from '../src/chunkstore/check';
import { addFile, backupFiles, bytesOf, fileEntry, openStoreFixture, readBackup, type StoreFixture } from './support/store-fixture';
import { chunkHashes, missingCount } from './support/client-knowledge';

/** The same bytes backed up by node1 (returned, to delete) and by node2 (which keeps them stored). */
async function storedByTwoClients(store: ChunkStore, seed = 'shared'): Promise<{ shared: Buffer; node1Backup: BackupRecord }> {
  const shared = await bytesOf(seed, 300_000);
  const node1Backup = await backupFiles(store, 'node1', { '/data/shared.bin': shared });
  await backupFiles(store, 'node2', { '/other/shared.bin': shared });
  return { shared, node1Backup };
}

/**
 * node1's backup of bytes node2 also stores is deleted, then, with the store closed, node1's rows for
 * them are written back: what an older server left, or (notPruned false) what no path should leave.
 */
async function staleRowsOfNode1(fixture: StoreFixture, seed: string, notPruned: boolean): Promise<{ shared: Buffer; hashes: Buffer }> {
  const { shared, node1Backup: mine } = await storedByTwoClients(fixture.store, seed);
  const hashes = chunkHashes(fixture.store, shared);
  fixture.store.deleteBackups([mine]);
  await fixture.store.close();
  const catalog = new Catalog(join(fixture.directory, 'catalog.db'));
  try {
    const node1 = catalog.clients.find('node1')!;
    catalog.transaction(() => {
      catalog.clientChunks.add(node1, Array.from({ length: hashes.length / 32 }, (_, index) => ({ hash: hashes.subarray(index * 32, index * 32 + 32), storedSize: 0 })));
      if (notPruned) catalog.meta.set('client_chunks_pruned', '0');
    });
  } finally {
    catalog.close();
  }
  return { shared, hashes };
}

test('a client that deleted its backup is told to send those chunks again, though another client still stores them', async (t) => {
  const fixture = await openStoreFixture();
  t.after(() => fixture.destroy());
  const { shared, node1Backup: mine } = await storedByTwoClients(fixture.store);
  const before = await missingCount(fixture.store, 'node1', shared);
  assert.ok(before.of > 3, `several chunks (${before.of})`);
  assert.equal(before.missing, 0, 'node1 holds them through its backup');

  fixture.store.deleteBackups([mine]);
  const after = await missingCount(fixture.store, 'node1', shared);
  assert.equal(after.missing, after.of, 'every chunk must be sent: node1 holds none of them any more');
  // Its figures say the same: the bytes are new to node1, though the store keeps one copy.
  const again = await backupFiles(fixture.store, 'node1', { '/data/shared.bin': shared });
  assert.equal(again.newBytes, shared.length);
  assert.ok(isClean(await fixture.store.check({ readDataPercent: 100 })));
});

test('a chunk another backup of the same client references, or one held for its retry, stays known after a deletion', async (t) => {
  const fixture = await openStoreFixture();
  t.after(() => fixture.destroy());
  const kept = await bytesOf('kept', 200_000);
  const dropped = await bytesOf('dropped', 200_000);
  const retried = await bytesOf('retried', 200_000);
  const first = await backupFiles(fixture.store, 'node1', { '/a': kept, '/b': dropped });
  const second = await backupFiles(fixture.store, 'node1', { '/a': kept });
  // A failed attempt: what it stored stays held for its retry, and known to node1.
  const failed = await fixture.store.beginBackup('node1', { kind: 0, hostname: 'test', labels: {}, parentNumber: 0 });
  await addFile(failed, '/c', retried);
  await failed.abandon(new Error('client went away'));

  fixture.store.deleteBackups([first]);
  assert.equal((await missingCount(fixture.store, 'node1', kept)).missing, 0, 'still in backup 2');
  assert.equal((await missingCount(fixture.store, 'node1', retried)).missing, 0, 'held for the retry');
  const gone = await missingCount(fixture.store, 'node1', dropped);
  assert.equal(gone.missing, gone.of, 'only the deleted backup had it');

  fixture.store.deleteBackups([second]);
  const none = await missingCount(fixture.store, 'node1', kept);
  assert.equal(none.missing, none.of);
  assert.equal((await missingCount(fixture.store, 'node1', retried)).missing, 0, 'the hold outlives the deletions');
});

test('a catalog whose deletions did not forget is pruned once when the store opens', async (t) => {
  const fixture = await openStoreFixture();
  t.after(() => fixture.destroy());
  // As an older server left it: node1's rows for the deleted backup still there, the store never pruned.
  const { shared } = await staleRowsOfNode1(fixture, 'stale', true);
  await fixture.reopen();
  const after = await missingCount(fixture.store, 'node1', shared);
  assert.equal(after.missing, after.of);
  assert.equal((await missingCount(fixture.store, 'node2', shared)).missing, 0, "node2's own rows stay");
});

test('backups of two clients deleted in one call: each client forgets what only its deleted backups had', async (t) => {
  const fixture = await openStoreFixture();
  t.after(() => fixture.destroy());
  const [one, two, shared] = await Promise.all([bytesOf('one', 200_000), bytesOf('two', 200_000), bytesOf('both', 200_000)]);
  const node1First = await backupFiles(fixture.store, 'node1', { '/one': one });
  const node1Second = await backupFiles(fixture.store, 'node1', { '/two': two, '/shared': shared });
  const node2Only = await backupFiles(fixture.store, 'node2', { '/shared': shared });
  const keeper = await backupFiles(fixture.store, 'node3', { '/one': one, '/two': two, '/shared': shared });
  fixture.store.deleteBackups([node1First, node1Second, node2Only]);
  for (const [client, content] of [['node1', one], ['node1', two], ['node1', shared], ['node2', shared]] as const) {
    const asked = await missingCount(fixture.store, client, content);
    assert.equal(asked.missing, asked.of, `${client} must send them again`);
  }
  assert.equal((await missingCount(fixture.store, 'node3', shared)).missing, 0);
  assert.deepEqual(fixture.store.listBackups('node3').map((backup) => backup.number), [keeper.number]);
});

/** A running backup of node1 that used `shared` and flushed its entries (more than a flush's worth after it). */
async function runningBackupUsing(store: ChunkStore, shared: Buffer): Promise<BackupSession> {
  const session = await store.beginBackup('node1', { kind: 0, hostname: 'test', labels: {}, parentNumber: 0 });
  await addFile(session, '/data/shared.bin', shared);
  for (let index = 0; index < 4200; index++) await addFile(session, `/data/many/${index}`, Buffer.from(`file ${index}\n`));
  return session;
}

test('a running backup keeps its chunks known across a deletion; abandoned, with its hold over, they are forgotten', async (t) => {
  // Holds that end at once: a running backup's last until it ends, an abandoned one's go at the next collection.
  const fixture = await openStoreFixture({ resumeHoldSeconds: 0 });
  t.after(() => fixture.destroy());
  const { shared, node1Backup: first } = await storedByTwoClients(fixture.store);
  const running = await runningBackupUsing(fixture.store, shared);
  fixture.store.deleteBackups([first]);
  await fixture.store.collectGarbage({ allPacks: true });
  assert.equal((await missingCount(fixture.store, 'node1', shared)).missing, 0, 'the running backup references and holds them');
  await running.abandon(new Error('client went away'));
  await fixture.store.collectGarbage({ allPacks: true });
  const asked = await missingCount(fixture.store, 'node1', shared);
  assert.equal(asked.missing, asked.of, 'only the abandoned backup referenced them, and its hold is over');
});

test('an abandoned backup\'s client is not asked again, while its hold lasts, for chunks it sent that another client stored', async (t) => {
  const fixture = await openStoreFixture();
  t.after(() => fixture.destroy());
  const { shared, node1Backup: first } = await storedByTwoClients(fixture.store);
  const running = await runningBackupUsing(fixture.store, shared);
  fixture.store.deleteBackups([first]);
  await running.abandon(new Error('client went away'));
  await fixture.store.collectGarbage({ allPacks: true });
  assert.equal((await missingCount(fixture.store, 'node1', shared)).missing, 0, 'held for the retry: the client sent those bytes itself');
  assert.ok(isClean(await fixture.store.check({ readDataPercent: 0 })));
});

test('a backup left running by a crash: recovery drops it and what its client knew only through it', async (t) => {
  const fixture = await openStoreFixture({ resumeHoldSeconds: 0 });
  t.after(() => fixture.destroy());
  const { shared, node1Backup: first } = await storedByTwoClients(fixture.store);
  await runningBackupUsing(fixture.store, shared);
  fixture.store.deleteBackups([first]);
  // The process dies here: no commit, no abandon. Closing the store stands in for the restart.
  const reopened = await fixture.reopen();
  assert.equal(reopened.recovery.droppedBackups, 1);
  const asked = await missingCount(reopened, 'node1', shared);
  assert.equal(asked.missing, asked.of);
});

test('when the hold of a failed backup expires, its client forgets the chunks another client keeps stored', async (t) => {
  const fixture = await openStoreFixture({ resumeHoldSeconds: 0 });
  t.after(() => fixture.destroy());
  const shared = await bytesOf('shared', 300_000);
  const failed = await fixture.store.beginBackup('node1', { kind: 0, hostname: 'test', labels: {}, parentNumber: 0 });
  await addFile(failed, '/data/shared.bin', shared);
  await failed.abandon(new Error('client went away'));
  await backupFiles(fixture.store, 'node2', { '/other/shared.bin': shared });
  await fixture.store.collectGarbage({ allPacks: true });
  const asked = await missingCount(fixture.store, 'node1', shared);
  assert.equal(asked.missing, asked.of, 'the retry hold is over; node2 keeps the bytes stored');
  assert.equal((await missingCount(fixture.store, 'node2', shared)).missing, 0);
});

test('a chunk list naming chunks the client was told it holds makes them its own again, even after a deletion in between', async (t) => {
  const fixture = await openStoreFixture();
  t.after(() => fixture.destroy());
  const { shared, node1Backup: first } = await storedByTwoClients(fixture.store);
  const hashes = chunkHashes(fixture.store, shared);
  const session = await fixture.store.beginBackup('node1', { kind: 0, hostname: 'test', labels: {}, parentNumber: 0 });
  assert.ok(session.missingChunks(hashes).every((byte) => byte === 0), 'node1 holds every chunk');
  fixture.store.deleteBackups([first]); // between the answer and the file that uses it
  const content = session.chunkedContent(hashes, () => '/data/shared.bin');
  await session.addEntry(fileEntry('/data/shared.bin', shared.length), content);
  const second = await session.commit({}, 0);
  assert.equal(second.files, 1);
  assert.equal((await missingCount(fixture.store, 'node1', shared)).missing, 0, 'its committed backup references them');
  assert.ok((await readBackup(fixture.store, second)).get('/data/shared.bin')?.equals(shared));
});

test('a failed backup\'s held chunks survive another client\'s commit: a backup id is never given twice', async (t) => {
  const fixture = await openStoreFixture();
  t.after(() => fixture.destroy());
  const retried = await bytesOf('retried', 200_000);
  const failed = await fixture.store.beginBackup('node1', { kind: 0, hostname: 'test', labels: {}, parentNumber: 0 });
  await addFile(failed, '/data/retried.bin', retried);
  await failed.abandon(new Error('client went away'));
  // SQLite gives a new row the deleted newest row's id; that backup's commit released node1's holds.
  const other = await backupFiles(fixture.store, 'node2', { '/other.bin': await bytesOf('other', 100_000) });
  assert.notEqual(other.id, failed.backup.id);
  await fixture.store.collectGarbage({ allPacks: true });
  assert.equal((await missingCount(fixture.store, 'node1', retried)).missing, 0, 'still held for the retry');
  await fixture.reopen();
  const afterReopen = await backupFiles(fixture.store, 'node3', { '/third.bin': await bytesOf('third', 50_000) });
  assert.ok(afterReopen.id > other.id, 'ids go on after a reopen too');
});

test('check reports rows a client knows that nothing of it references, and check --repair forgets them', async (t) => {
  const fixture = await openStoreFixture();
  t.after(() => fixture.destroy());
  // As no path should leave it: node1's rows back, the once-only prune already done.
  const { shared, hashes } = await staleRowsOfNode1(fixture, 'stale again', false);
  const store = await fixture.reopen();
  const report = await store.check({ readDataPercent: 0 });
  assert.deepEqual({ problems: report.problems, staleKnowledge: report.staleKnowledge }, { problems: [], staleKnowledge: [{ clientName: 'node1', chunks: hashes.length / 32 }] });
  assert.ok(checkReportLines(report).includes(
    `problem: client node1 is told the store holds ${hashes.length / 32} chunks none of its backups or holds references (check --repair forgets them)`));
  assert.equal(await store.forgetStaleKnowledge(), hashes.length / 32);
  assert.ok(isClean(await store.check({ readDataPercent: 0 })));
  const asked = await missingCount(store, 'node1', shared);
  assert.equal(asked.missing, asked.of);
});
