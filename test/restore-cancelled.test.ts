// A client that goes away in the middle of a restore, while the server waits for it to read
// (a full restore target, a killed process): the server's call must end and let go of the
// store's lock, or garbage collection and the server's own shutdown wait for it forever.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type * as grpc from '@grpc/grpc-js';
import { Sandbox } from './support/sandbox';
import type { RestoreResponse } from '../src/proto/cpsbackup';
import { hostileClient } from './support/hostile-client';

test('a restore cancelled while the server waits for the client to read ends on the server: and the server can stop', { timeout: 180_000 }, async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  const data = join(sandbox.root, 'data');
  await mkdir(data);
  // Incompressible, and far more than the HTTP/2 window and grpc-js's buffer hold.
  for (let index = 0; index < 6; index++) await writeFile(join(data, `random-${index}.bin`), randomBytes(4 * 1024 * 1024));
  const server = await sandbox.startServer();
  const configFile = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
  const backup = await sandbox.runClient(['-c', configFile, '-e']);
  assert.equal(backup.code, 0, backup.stderr);

  // The smallest window HTTP/2 allows, and a reader that stops after the first message.
  const client = hostileClient(configFile, { 'grpc-node.flow_control_window': 65535 });
  const call = client.restore({ backupId: 0, clientName: '', paths: [], acceptsBatches: true, pathRegex: '', protocolVersion: 2, skipFifoContent: false, strip: 0 }) as grpc.ClientReadableStream<RestoreResponse>;
  call.on('error', () => undefined); // the cancellation itself
  await new Promise<void>((resolve) => call.once('data', () => { call.pause(); resolve(); }));
  await sleep(1000); // the server fills what the window and its buffer take, then waits for 'drain'
  call.cancel();
  client.close();

  // The server must notice on its own. Stopping it at once raced the cancel: a SIGTERM that overtook
  // the RST_STREAM ended the call as part of the shutdown, and the test failed one run in five.
  const deadline = Date.now() + 30_000;
  while (!/cancelled/.test(server.log()) && Date.now() < deadline) await sleep(50);
  assert.match(server.log(), /cancelled/, 'the server says why the restore ended');

  // Before the fix stop() never returned: the handler still waited for the cancelled client, kept
  // the store's lock, and the store never closed. The guard only turns that hang into a failure.
  const hang = sleep(60_000, 'hung' as const, { ref: false });
  const outcome = await Promise.race([server.stop().then(() => 'stopped' as const), hang]);
  assert.equal(outcome, 'stopped', `the server never finished stopping:\n${server.log()}`);
  console.log(server.log().split('\n').filter((line) => /cancelled/.test(line)).join('\n'));
});
