// List became a stream of batches (a long history outgrew one message). A server of after that change
// answers a client of before in the one message it reads while the list fits, and refuses it with words
// saying so once it does not; a client of after refuses a server of before rather than take its one
// message for the whole list. The older peer is played with grpc-js's unary call, as the generated code of before made it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { BackupClient, BackupService, ListBatch, ListRequest, type BackupSummary, type UploadRequest } from '../src/proto/cpsbackup';
import { listBackups } from '../src/client/catalog-calls';
import { fromServiceError } from '../src/client/remote-error';
import { ProtocolError } from '../src/common/errors';
import { commit, hostileClient, sendUpload, begin } from './support/hostile-client';
import { startInProcessServer } from './support/in-process-server';

const LIST_PATH = '/cpsbackup.v1.Backup/List';

/** What the client of before read: List as a unary call, its request without reads_batches. */
function listAsOlderClient(client: BackupClient): Promise<{ error: grpc.ServiceError | null; answer: ListBatch | undefined }> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(LIST_PATH, (request: { clientName: string }) => Buffer.from(ListRequest.encode({ clientName: request.clientName, readsBatches: false }).finish()),
      (bytes: Buffer) => ListBatch.decode(bytes), { clientName: '' }, (error, answer) => resolve({ error, answer }));
  });
}

/** ~960 KiB of labels: the most a backup may carry is 1 MiB, so a few such backups outgrow one message. */
function bulkyLabels(backupNumber: number): Record<string, string> {
  return Object.fromEntries(Array.from({ length: 16 }, (_, index) => [`mark.table_${index}`, `${backupNumber}`.repeat(60 * 1024)]));
}

function bulkyBegin(backupNumber: number): UploadRequest {
  return { message: { $case: 'begin', value: { hostname: 'bulky', kind: 0, parentBackupId: 0, labels: bulkyLabels(backupNumber), clientVersion: 'test', isScheduled: false } } };
}

// Regression: the server refused every older client, even one whose list fit in one message, so the day
// the server was upgraded -l, partial backups, receive and chain restores failed on every node not yet upgraded.
test('an older client, which reads List as one message, gets its whole list while it fits, and a PROTOCOL error saying why once it would not', { timeout: 60_000 }, async (t) => {
  const fixture = await startInProcessServer();
  const config = await fixture.nodeConfig('node1', []);
  const client = hostileClient(config.file);
  t.after(async () => { client.close(); await fixture.stop(); });
  assert.equal((await sendUpload(client, [begin, commit])).error, undefined);
  const short = await listAsOlderClient(client);
  assert.equal(short.error, null, short.error?.details);
  assert.deepEqual(short.answer?.backups.map((backup) => backup.backupId), [1]);
  assert.equal(short.answer?.backups[0].hostname, 'hostile');

  // ~1.9 MiB, well past a short list: still the one message, every label whole, deletable as the stream says.
  for (const number of [2, 3]) assert.equal((await sendUpload(client, [bulkyBegin(number), commit])).error, undefined);
  const fitting = await listAsOlderClient(client);
  assert.equal(fitting.error, null, fitting.error?.details);
  assert.deepEqual(fitting.answer?.backups.map((backup) => backup.backupId), [1, 2, 3]);
  assert.deepEqual(fitting.answer?.backups[2].labels, { ...bulkyLabels(3), 'client.version': 'test' });
  assert.deepEqual(fitting.answer?.backups.map((backup) => backup.deletable), [true, true, false]);

  // ~4.8 MiB: past what the older client takes in one message.
  for (const number of [4, 5, 6]) assert.equal((await sendUpload(client, [bulkyBegin(number), commit])).error, undefined);
  const long = await listAsOlderClient(client);
  assert.ok(long.error !== null, 'the older client got a list it cannot take');
  const seen = fromServiceError(long.error, 'the server');
  assert.ok(seen instanceof ProtocolError, `${seen.constructor.name}: ${seen.message}`);
  assert.match(seen.message, /client "node1" runs a cpsbackup older than this server's, which reads the list of backups as one message, and its list of 6 backups is too long for one \(more than \d+ bytes\); install the server's version of cpsbackup on that node/);
  // The refusal is about that client only: its own list, asked the new way, is answered.
  assert.deepEqual((await listBackups(client, 'the server')).map((backup) => backup.backupId), [1, 2, 3, 4, 5, 6]);
});

test('against an older server, which answers List in one message, the client fails with a ProtocolError saying why', { timeout: 60_000 }, async (t) => {
  const summary: BackupSummary = {
    backupId: 1, startedAtMs: 1, finishedAtMs: 2, files: 0, logicalBytes: 0, newBytes: 0, storedBytes: 0, kind: 0, labels: { 'mark.a': '1' },
    deletable: false, hostname: 'old', unreadableFiles: 0, isProtected: false,
  };
  const server = new grpc.Server();
  // The older List: unary, a ListResponse (field 1, the backups; nothing else) holding every backup.
  server.addService({ list: { ...BackupService.list, responseStream: false } }, {
    list: (_call: grpc.ServerUnaryCall<ListRequest, ListBatch>, callback: grpc.sendUnaryData<{ backups: BackupSummary[] }>) => callback(null, { backups: [summary] }),
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound)));
  });
  const client = new BackupClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  t.after(() => { client.close(); server.forceShutdown(); });
  await assert.rejects(listBackups(client, `127.0.0.1:${port}`), (error: Error) => error instanceof ProtocolError
    && /the backup server at 127\.0\.0\.1:\d+ runs a cpsbackup older than this client's: it answers the list of backups in one message/.test(error.message));
});
