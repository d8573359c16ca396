// Regression (review of client-sent fields): a ChunkQuery could ask about as many hashes as 4 MiB holds,
// 131,072, each a catalog look-up in one synchronous transaction that no other client's call could
// interrupt. A query past MAX_QUERY_HASHES is refused, naming the client; one our client sends is answered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { BackupClient, type UploadRequest } from '../src/proto/cpsbackup';
import { channelOptions, clientCredentials } from '../src/common/tls/credentials';
import { MAX_QUERY_HASHES } from '../src/server/upload-session';
import { begin, commit, sendUpload } from './support/hostile-client';
import { startInProcessServer } from './support/in-process-server';

const query = (count: number): UploadRequest => ({ message: { $case: 'query', value: { queryId: 1, hashes: randomBytes(32 * count) } } });

test('a chunk query past MAX_QUERY_HASHES is refused naming the client; one of 512 is answered', { timeout: 60_000 }, async (t) => {
  const fixture = await startInProcessServer(['mallory']);
  const config = await fixture.nodeConfig('mallory', []);
  const client = new BackupClient(`127.0.0.1:${config.port}`, clientCredentials(config), channelOptions(config));
  t.after(async () => { client.close(); await fixture.stop(); });

  const startedAt = performance.now();
  const refused = await sendUpload(client, [begin, query(131_000), commit]);
  const refusedMs = performance.now() - startedAt;
  assert.equal(refused.error?.code, grpc.status.INVALID_ARGUMENT, refused.error?.details);
  assert.match(refused.error!.details, new RegExp(`client "mallory" sent a chunk query of 131000 hashes; at most ${MAX_QUERY_HASHES} go in one`));

  const answered = await sendUpload(client, [begin, query(512), commit]);
  assert.equal(answered.error, undefined, answered.error?.details);
  const answer = answered.responses.find((response) => response.message?.$case === 'answer');
  assert.equal(answer?.message?.$case === 'answer' && answer.message.value.missing.length, 64, 'a bit for each of the 512 hashes');
  t.diagnostic(`the refused query took ${refusedMs.toFixed(0)} ms`);
});
