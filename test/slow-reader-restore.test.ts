// Regression (review of 9d41c99): idle_timeout ended a call whose client was reading steadily. The limit
// ran per wait for 'drain', which comes only once the client took all 16 queued messages: a restore of
// many small files onto a slow disk (each message a batch of up to 1024 entries) could take longer than
// the limit for that while making progress, and was reset. A raw client here takes one message every
// 150 ms, so 16 take 2.4 s against an idle_timeout of 1 s; the restore must end normally. 64,000 files make
// 63 messages: more than the 16 the server queues, the 16 the client holds and its 64 KiB window.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox } from './support/sandbox';
import { backupNow } from './support/fault-tools';
import { hostileClient } from './support/hostile-client';

const FILES = 64_000;

test('a restore whose client takes a message every 150 ms outlasts idle_timeout = 1 without being ended', { timeout: 120_000 }, async (t) => {
  const sandbox = await Sandbox.create({ serverLines: ['idle_timeout = 1'] });
  let client: ReturnType<typeof hostileClient> | undefined;
  t.after(async () => {
    client?.close();
    await sandbox.destroy();
  });
  const data = join(sandbox.root, 'data');
  await mkdir(data);
  for (let start = 0; start < FILES; start += 1000) {
    await Promise.all(Array.from({ length: 1000 }, (_, index) => writeFile(join(data, `f${start + index}`), '')));
  }
  const server = await sandbox.startServer();
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
  const backup = await backupNow(sandbox, config, data);

  client = hostileClient(config, { 'grpc-node.flow_control_window': 65_535 });
  const call = client.restore({ backupId: backup.number, clientName: '', paths: [], acceptsBatches: true, pathRegex: '', protocolVersion: 2, skipFifoContent: false, strip: 0 });
  call.pause();
  const outcome = new Promise<grpc.ServiceError | undefined>((resolve) => {
    call.once('error', resolve);
    call.once('end', () => resolve(undefined));
  });
  let messages = 0;
  const reader = setInterval(() => {
    if (call.read() !== null) messages++;
  }, 150);
  const error = await outcome.finally(() => clearInterval(reader));
  assert.equal(error, undefined, `the steady reader's restore was ended: ${error?.code} ${error?.details}\n${server.log()}`);
  assert.ok(messages > 16, `${messages} messages: more than the 16 grpc-js queues, so the server waited for drain`);
  assert.doesNotMatch(server.log(), /took nothing the server sent/);
});
