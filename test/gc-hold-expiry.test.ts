// Regression (left alone by earlier sessions): the chunks an interrupted backup stored are held for its
// retry (resume_hold), and once the hold ended nothing collected them: a collection runs after a
// deletion, at a start, or after an abandon (while the hold still keeps them). A young server, which
// deletes no backup for days, kept them until its next restart. The end of the first hold now starts one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox } from './support/sandbox';
import type { UploadRequest } from '../src/proto/cpsbackup';
import { begin, hostileClient, sendUpload } from './support/hostile-client';
import { packFiles, waitUntil } from './support/fault-tools';

test('the chunks of an interrupted backup no retry used are collected once its hold ends, with nothing else to start a collection', async (t) => {
  const sandbox = await Sandbox.create({ serverLines: ['resume_hold = 2s'] });
  t.after(() => sandbox.destroy());
  const server = await sandbox.startServer();
  const nothing = join(sandbox.root, 'nothing');
  await mkdir(nothing);
  const client = hostileClient(await sandbox.writeNodeConfig('node1', [`include = ${nothing}`]));
  t.after(() => client.close());
  const chunks = Array.from({ length: 8 }, () => randomBytes(128 * 1024))
    .map((bytes) => ({ hash: createHash('sha256').update(bytes).digest(), rawSize: bytes.length, codec: 0, payload: bytes }));
  const abort: UploadRequest = { message: { $case: 'abort', value: { reason: 'interrupted' } } };
  const outcome = await sendUpload(client, [begin, { message: { $case: 'chunks', value: { chunks } } }, abort]);
  assert.match(outcome.error?.details ?? '', /client aborted the backup: interrupted/);
  // Stored, for a retry: the abandon seals the open pack, and the collection after it leaves it held.
  await waitUntil(async () => /gc: 0 chunks/.test(server.log()), 'the collection after the abandon', 20_000, server.log);
  assert.equal((await packFiles(sandbox)).length, 1, 'the abandoned backup\'s pack is kept for its retry');
  await waitUntil(async () => (await packFiles(sandbox)).length === 0, 'the pack to go once the hold ended', 30_000, server.log);
  assert.match(server.log(), /gc: 8 chunks, 1 packs deleted/);
});
