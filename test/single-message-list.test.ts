// An older client is answered in one message only if the whole ListBatch fits its cap: the size the
// server counts must be the encoded size exactly, or a list just over the cap would reach that client
// and fail there with grpc-js's RESOURCE_EXHAUSTED instead of the server's words.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ListBatch, type BackupSummary } from '../src/proto/cpsbackup';
import { singleMessageList } from '../src/server/single-message-list';

function summaryOf(backupId: number): BackupSummary {
  return {
    backupId, startedAtMs: 1_700_000_000_000 + backupId, finishedAtMs: 0, files: backupId * 7, logicalBytes: 2 ** 40, newBytes: 0, storedBytes: 1,
    kind: 0, labels: backupId % 3 === 0 ? { 'mark.t': 'x'.repeat(200 * backupId) } : {}, deletable: true, hostname: 'é'.repeat(backupId), unreadableFiles: 0, isProtected: false,
  };
}

test('the list is answered when its ListBatch encodes within the budget to the byte, and not a byte over', () => {
  for (const count of [0, 1, 5, 130]) {
    const ids = Array.from({ length: count }, (_, index) => index + 1);
    const encoded = ListBatch.encode({ backups: ids.map(summaryOf), isLast: true }).finish().length;
    assert.deepEqual(singleMessageList(ids, summaryOf, encoded)?.map((summary) => summary.backupId), ids, `${count} backups in ${encoded} bytes`);
    assert.equal(singleMessageList(ids, summaryOf, encoded - 1), undefined, `${count} backups in ${encoded - 1} bytes`);
  }
});

test('no more summaries are made than fit: a long history is given up on at the budget, not summarized whole', () => {
  let made = 0;
  const ids = Array.from({ length: 10_000 }, (_, index) => index + 1);
  assert.equal(singleMessageList(ids, (id) => { made++; return summaryOf(id); }, 4096), undefined);
  assert.ok(made < 100, `${made} summaries made for a 4 KiB budget`);
});
