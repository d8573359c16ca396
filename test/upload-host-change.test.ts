// Regression (operator review): a node.conf given another node's certificate backs up into that
// client's history, and its keep counts, with nothing said anywhere. The server now notes a backup
// that comes from another host than the client's newest one (upload-handler logs it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UploadSession } from '../src/server/upload-session';
import { BackupKind } from '../src/proto/cpsbackup';
import { openStoreFixture } from './support/store-fixture';
import type { ChunkStore } from '../src/chunkstore/store';

async function begun(store: ChunkStore, hostname: string): Promise<UploadSession> {
  const session = new UploadSession(store, 'node2', { clientName: 'node2', backupNumber: 0, startedAt: Date.now(), files: 0, bytes: 0, newBytes: 0 }, async () => undefined);
  await session.handle({ message: { $case: 'begin', value: { hostname, kind: BackupKind.BACKUP_KIND_COMPLETE, parentBackupId: 0, labels: {}, clientVersion: 'test', isScheduled: false } } });
  return session;
}

test('a backup from another host than the client\'s newest backup is noted; one from the same host is not', async (t) => {
  const fixture = await openStoreFixture();
  t.after(() => fixture.destroy());
  const store = fixture.store;
  const first = await begun(store, 'web-1');
  assert.equal(first.hostChange, undefined, 'the first backup follows nothing');
  await first.handle({ message: { $case: 'commit', value: { warnings: [], unreadableFiles: 0 } } });
  const same = await begun(store, 'web-1');
  assert.equal(same.hostChange, undefined);
  await same.handle({ message: { $case: 'commit', value: { warnings: [], unreadableFiles: 0 } } });
  const other = await begun(store, 'db-1');
  assert.deepEqual(other.hostChange, { previousHost: 'web-1', previousNumber: 2, host: 'db-1' });
});
