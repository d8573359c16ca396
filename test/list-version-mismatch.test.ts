// List became a stream of batches (a long history outgrew one message). A client and a server of before
// and after that change must refuse each other with words saying so, not hang, nor take one message for
// the whole list. The older peer is played with grpc-js's unary call, as the generated code of before made it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { BackupClient, BackupService, ListBatch, ListRequest, type BackupSummary } from '../src/proto/cpsbackup';
import { listBackups } from '../src/client/catalog-calls';
import { fromServiceError } from '../src/client/remote-error';
import { ProtocolError } from '../src/common/errors';
import { commit, hostileClient, sendUpload, begin } from './support/hostile-client';
import { startInProcessServer } from './support/in-process-server';

const LIST_PATH = '/cpsbackup.v1.Backup/List';

test('an older client, which reads List as one message, is refused by the server with a PROTOCOL error saying why', { timeout: 60_000 }, async (t) => {
  const fixture = await startInProcessServer();
  const config = await fixture.nodeConfig('node1', []);
  const client = hostileClient(config.file);
  t.after(async () => { client.close(); await fixture.stop(); });
  // One small backup: it would fit one message, and is refused all the same (a batch is never the whole list to it).
  assert.equal((await sendUpload(client, [begin, commit])).error, undefined);
  const error = await new Promise<grpc.ServiceError | null>((resolve) => {
    client.makeUnaryRequest(LIST_PATH, (request: { clientName: string }) => Buffer.from(ListRequest.encode({ clientName: request.clientName, readsBatches: false }).finish()),
      (bytes: Buffer) => ListBatch.decode(bytes), { clientName: '' }, (callError) => resolve(callError));
  });
  assert.ok(error !== null, 'the older client got an answer');
  const seen = fromServiceError(error, 'the server');
  assert.ok(seen instanceof ProtocolError, `${seen.constructor.name}: ${seen.message}`);
  assert.match(seen.message, /client "node1" runs a cpsbackup older than this server's, which reads the list of backups as one message/);
  // The refusal is about that client only: its own list, asked the new way, is answered.
  assert.deepEqual((await listBackups(client, 'the server')).map((backup) => backup.backupId), [1]);
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
