// A partial backup stands on the backups before it back to the newest complete one: its commit is refused
// when one of them was deleted while it ran, and goes through when only backups older than that are deleted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BrokenChainError } from '../src/chunkstore/session/partial-chain';
import type { BackupRecord, ChunkStore } from '../src/chunkstore/store';
import { addFile, bytesOf, openStoreFixture } from './support/store-fixture';

const COMPLETE = 0;
const PARTIAL = 1;

async function backup(store: ChunkStore, kind: number, parentNumber: number, seed: string): Promise<BackupRecord> {
  const session = await store.beginBackup('node1', { kind, hostname: 'test', labels: {}, parentNumber });
  await addFile(session, `/dump/${seed}`, await bytesOf(seed, 20_000));
  return session.commit({}, 0);
}

// Regression: `-d 5 --force` deleted complete 5 and its partials 6-8 while partial 9 (on 8) ran; 9 then
// committed and the client was told it succeeded, though it stood on nothing: retention deleted it at once,
// or kept it on an older complete where the client's chain check refused to load it.
test('a partial whose chain was deleted while it ran is refused at commit, naming the deleted backups', { timeout: 60_000 }, async (t) => {
  const fixture = await openStoreFixture();
  t.after(() => fixture.destroy());
  const store = fixture.store;
  const older = await backup(store, COMPLETE, 0, 'older');
  const base = await backup(store, COMPLETE, 0, 'base');
  const first = await backup(store, PARTIAL, base.number, 'p1');
  const second = await backup(store, PARTIAL, first.number, 'p2');

  // Only a backup older than the chain goes: the partial commits.
  const standing = await store.beginBackup('node1', { kind: PARTIAL, hostname: 'test', labels: {}, parentNumber: second.number });
  await addFile(standing, '/dump/p3', await bytesOf('p3', 20_000));
  store.deleteBackups([older]);
  const third = await standing.commit({}, 0);

  const running = await store.beginBackup('node1', { kind: PARTIAL, hostname: 'test', labels: {}, parentNumber: third.number });
  await addFile(running, '/dump/p4', await bytesOf('p4', 20_000));
  // `-d <base> --force`: the base and the partials on it, while the next partial runs.
  store.deleteBackups([base, first, second, third]);
  await assert.rejects(running.commit({}, 0), (error: unknown) => {
    assert.ok(error instanceof BrokenChainError, String(error));
    assert.equal(error.code, 'NOT_FOUND');
    assert.match(error.message, new RegExp(`backup ${base.number}, ${first.number}, ${second.number}, ${third.number} of client "node1", which the partial backup \\d+ stands on, was deleted`));
    return true;
  });
  await running.abandon(new Error('refused at commit'));
  assert.deepEqual(store.listBackups('node1'), [], 'no partial committed on nothing');
  // A complete backup afterwards is not refused: it stands on nothing.
  const fresh = await backup(store, COMPLETE, 0, 'fresh');
  assert.deepEqual(store.listBackups('node1').map((record) => record.number), [fresh.number]);
});
