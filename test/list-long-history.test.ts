// Regression: List answered with one message holding every backup of a client, and a gRPC message is
// capped at 4 MiB. A client with a mark per table (a label each) on ~150 backups outgrew it, and from
// then on `cpsbackup -l`, the daemon's partial job (which reads the newest backup's marks through List),
// receive and a chain's restore all failed. Here 60 backups carry ~110 KiB of labels each (~6.6 MiB in all).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ListBatch, type UploadRequest } from '../src/proto/cpsbackup';
import { listOwnBackups } from '../src/client/daemon/daemon-jobs';
import { partialSinceOf } from '../src/client/partial-since';
import { maxMessageBytes } from '../src/common/tls/credentials';
import { commit, hostileClient, sendUpload } from './support/hostile-client';
import { startInProcessServer } from './support/in-process-server';

const BACKUPS = 60;
const TABLES = 1000;

/** What a partial dump of TABLES tables leaves: a high-water mark per table, this backup's own. */
function marksOf(backupNumber: number): Record<string, string> {
  return Object.fromEntries(Array.from({ length: TABLES }, (_, table) => [
    `mark.shop.table_${String(table).padStart(4, '0')}.updated_at`, `2026-12-05T17:${String(backupNumber).padStart(2, '0')}:00.000Z ${'#'.repeat(60)}`,
  ]));
}

function beginWith(labels: Record<string, string>): UploadRequest {
  return { message: { $case: 'begin', value: { hostname: 'shop', kind: 0, parentBackupId: 0, labels, clientVersion: 'test', isScheduled: true } } };
}

test('a history whose labels outgrow one gRPC message is listed whole, by -l and by the partial job that reads the newest marks', { timeout: 120_000 }, async (t) => {
  const fixture = await startInProcessServer(['node1'], ['keep = 100']);
  const config = await fixture.nodeConfig('node1', []);
  const client = hostileClient(config.file);
  t.after(async () => { client.close(); await fixture.stop(); });

  let labelBytes = 0;
  for (let number = 1; number <= BACKUPS; number++) {
    const marks = marksOf(number);
    for (const [key, value] of Object.entries(marks)) labelBytes += key.length + value.length;
    const outcome = await sendUpload(client, [beginWith(marks), commit]);
    assert.equal(outcome.error, undefined, outcome.error?.details);
  }
  assert.ok(labelBytes > maxMessageBytes * 1.5, `the labels take ${labelBytes} bytes, well past one message (${maxMessageBytes})`);

  const listed = await fixture.sandbox.runClient(['-c', config.file, '-l'], { timeoutMs: 60_000 });
  assert.equal(listed.code, 0, listed.stderr);
  const lines = listed.stdout.split('\n').filter(Boolean);
  assert.equal(lines.length, BACKUPS, listed.stdout.slice(0, 500));
  for (const [index, line] of lines.entries()) assert.match(line, new RegExp(`^Backup: 0*${index + 1} `));

  const json = await fixture.sandbox.runClient(['-c', config.file, '-l', '--json'], { timeoutMs: 60_000 });
  assert.equal(json.code, 0, json.stderr);
  const backups = JSON.parse(json.stdout) as { id: number; labels: Record<string, string> }[];
  assert.deepEqual(backups.map((backup) => backup.id), Array.from({ length: BACKUPS }, (_, index) => index + 1));
  for (const backup of backups) assert.deepEqual(backup.labels, { ...marksOf(backup.id), 'client.version': 'test' }, `labels of backup ${backup.id}`);

  // The server cut the answer under its byte budget, well below the cap, and said which batch was the last.
  const batches: ListBatch[] = [];
  for await (const batch of client.list({ clientName: '', readsBatches: true }) as AsyncIterable<ListBatch>) batches.push(batch);
  const sizes = batches.map((batch) => ListBatch.encode(batch).finish().length);
  assert.ok(batches.length > 1 && sizes.every((size) => size <= maxMessageBytes / 2), `batch sizes: ${sizes.join(', ')}`);
  assert.deepEqual(batches.map((batch) => batch.isLast), batches.map((_, index) => index === batches.length - 1));

  // What the daemon's partial job does before it dumps: the newest backup's marks, every one of them.
  const base = partialSinceOf(await listOwnBackups(config));
  assert.equal(base.followsBackupId, BACKUPS);
  assert.deepEqual(base.labels, { ...marksOf(BACKUPS), 'client.version': 'test' });
});
