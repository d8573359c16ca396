// The store's write session through its own API, no server: commit makes a backup visible and
// durable, abandon leaves nothing listed but keeps stored chunks for a retry, a crash between a
// pack being stored and the commit is recovered on open, and identical content is stored once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { addFile, backupFiles, bytesOf, openStoreFixture, readBackup } from './support/store-fixture';

test('a committed session is listed, restores byte for byte, and leaves the write-ahead log empty', async (t) => {
  const fixture = await openStoreFixture();
  t.after(() => fixture.destroy());
  const files = { '/data/a.bin': await bytesOf('a', 300_000), '/data/empty': Buffer.alloc(0), '/data/b.bin': await bytesOf('b', 70_000) };
  const backup = await backupFiles(fixture.store, 'node1', files);
  assert.equal(backup.state, 'committed');
  assert.equal(backup.files, 3);
  assert.equal(backup.logicalBytes, 370_000);
  assert.deepEqual(fixture.store.listBackups('node1').map((listed) => listed.number), [1]);
  assert.equal(statSync(join(fixture.directory, 'catalog.db-wal')).size, 0);
  const restored = await readBackup(fixture.store, backup);
  for (const [path, content] of Object.entries(files)) assert.ok(restored.get(path)?.equals(content), path);
  assert.equal((await fixture.store.check({ readDataPercent: 100 })).problems.length, 0);
});

test('the same content twice, in one session and across sessions, is stored once', async (t) => {
  const fixture = await openStoreFixture();
  t.after(() => fixture.destroy());
  const content = await bytesOf('twice', 200_000);
  const first = await backupFiles(fixture.store, 'node1', { '/x/one': content, '/x/two': content });
  assert.equal(first.newBytes, 200_000);
  const second = await backupFiles(fixture.store, 'node2', { '/y/three': content });
  assert.equal(fixture.store.figures().uniqueBytes, 200_000, 'stored once');
  // New to node2, though not to the store: a client may not learn from its figures what another stored.
  assert.equal(second.newBytes, 200_000);
  const third = await backupFiles(fixture.store, 'node2', { '/y/four': content });
  assert.equal(third.newBytes, 0, 'node2 holds it now');
  assert.ok((await readBackup(fixture.store, second)).get('/y/three')?.equals(content));
});

test('an abandoned session is never listed; its stored chunks are held, so a retry stores only what is missing', async (t) => {
  const fixture = await openStoreFixture();
  t.after(() => fixture.destroy());
  const big = await bytesOf('big', 3 * 1024 * 1024);
  const session = await fixture.store.beginBackup('node1', { kind: 0, hostname: 'test', labels: {}, parentNumber: 0 });
  await addFile(session, '/data/big.bin', big);
  await session.abandon(new Error('client went away'));
  assert.deepEqual(fixture.store.listBackups('node1'), []);
  await fixture.store.collectGarbage({ allPacks: true });
  const retry = await backupFiles(fixture.store, 'node1', { '/data/big.bin': big });
  assert.equal(retry.newBytes, 0, 'every chunk of the abandoned attempt was reused');
  assert.ok((await readBackup(fixture.store, retry)).get('/data/big.bin')?.equals(big));
});

test('a crash after a pack is stored but before the commit: reopening drops the backup and the check is clean', async (t) => {
  const fixture = await openStoreFixture();
  t.after(() => fixture.destroy());
  const kept = await backupFiles(fixture.store, 'node1', { '/data/kept': await bytesOf('kept', 100_000) });
  const session = await fixture.store.beginBackup('node1', { kind: 0, hostname: 'test', labels: {}, parentNumber: 0 });
  // More than ENTRY_FLUSH_COUNT entries: a flush stores packs and inserts rows before the "crash".
  for (let index = 0; index < 4200; index++) await addFile(session, `/data/many/${index}`, Buffer.from(`file ${index}\n`));
  // The process dies here: no commit, no abandon. Closing the store stands in for the restart.
  const reopened = await fixture.reopen();
  assert.equal(reopened.recovery.droppedBackups, 1);
  assert.deepEqual(reopened.listBackups('node1').map((backup) => backup.number), [kept.number]);
  const report = await reopened.check({ readDataPercent: 100 });
  assert.deepEqual([...report.problems, ...report.damagedChunks.map((damage) => damage.reason)], []);
  assert.equal((await readBackup(reopened, kept)).size, 1);
  assert.deepEqual(await readdir(join(fixture.directory, 'staging')), [], 'no staged pack survives a restart');
});

test('a session refuses to go on after it ended', async (t) => {
  const fixture = await openStoreFixture();
  t.after(() => fixture.destroy());
  const session = await fixture.store.beginBackup('node1', { kind: 0, hostname: 'test', labels: {}, parentNumber: 0 });
  await session.commit({}, 0);
  assert.throws(() => session.openContent(() => '/late'), /has already ended/);
  await assert.rejects(fixture.store.beginBackup('node1', { kind: 0, hostname: 'test', labels: {}, parentNumber: 7 }), /parent backup 7 of client "node1" does not exist/);
});

// Regression: a backup the server's crash interrupted was dropped at the next open without restarting its
// holds' retry window, as abandon does: holds that had run out while it ran let the first GC delete every
// chunk it stored, and the client's retry sent them all again.
test('a crash during a backup that outlasts its hold time: the retry window starts at reopen, and the retry stores nothing new', { timeout: 60_000 }, async (t) => {
  const fixture = await openStoreFixture({ resumeHoldSeconds: 2, entriesPerFlush: 1 });
  t.after(() => fixture.destroy());
  const content = await bytesOf('interrupted', 500_000);
  const session = await fixture.store.beginBackup('node1', { kind: 0, hostname: 'test', labels: {}, parentNumber: 0 });
  await addFile(session, '/data/big', content);
  // The backup runs past its hold time, then the process dies: no commit, no abandon.
  await new Promise((resolve) => setTimeout(resolve, 2500));
  const reopened = await fixture.reopen();
  assert.equal(reopened.recovery.droppedBackups, 1);
  const chunks = reopened.figures().chunks;
  assert.ok(chunks > 0);
  await reopened.collectGarbage({ allPacks: true });
  assert.equal(reopened.figures().chunks, chunks, 'held for the retry');
  const retry = await backupFiles(reopened, 'node1', { '/data/big': content });
  assert.equal(retry.newBytes, 0, 'every chunk of the interrupted attempt was reused');
});
