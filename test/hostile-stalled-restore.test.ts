// Regression (security review): a restore whose client stops reading, while it still answers HTTP/2 pings, kept its
// reader lease for ever: network_timeout never ended the call, and every pack GC doomed afterwards stayed on disk (the
// disk slowly filled). The server now ends a call whose client has taken nothing for idle_timeout, and lets the lease go.
// (A reader now keeps only the packs it read chunk places in: here the pack compaction takes the restored file's
// first chunks from, kept while the stalled call lasts and deleted once it was ended.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { mkdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox } from './support/sandbox';
import { writeDeterministicFile } from './support/trees';
import { assertRestoresExactly, backupNow, collectionsEnded, packSizes, waitUntil } from './support/fault-tools';
import { hostileClient } from './support/hostile-client';

const MEBIBYTE = 1024 * 1024;
const IDLE_TIMEOUT_SECONDS = 4;

test('a restore whose client reads nothing ends after idle_timeout, and the packs GC doomed meanwhile are deleted', { timeout: 60_000 }, async (t) => {
  const sandbox = await Sandbox.create({
    serverLines: [`idle_timeout = ${IDLE_TIMEOUT_SECONDS}`, 'pack_size = 8M', 'chunk_min_size = 16384', 'chunk_avg_size = 65536', 'chunk_max_size = 262144'],
  });
  let client: ReturnType<typeof hostileClient> | undefined;
  t.after(async () => {
    client?.close();
    await sandbox.destroy();
  });
  const data = join(sandbox.root, 'data');
  await mkdir(data);
  // The first 8 MiB pack: 6 MiB the second backup drops, then the first 2 MiB of the file it keeps (25 % live once the
  // first backup goes: compacted, and doomed while the stalled restore holds a chunk place in it).
  await writeDeterministicFile(join(data, 'a-old.bin'), 'old', 6 * MEBIBYTE);
  // More than the client (16 messages, a 64 KiB window) and the server (4 MiB of content) hold between them.
  await writeDeterministicFile(join(data, 'keep.bin'), 'keep', 32 * MEBIBYTE);
  const server = await sandbox.startServer();
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
  await backupNow(sandbox, config, data);
  const oldPacks = [...(await packSizes(sandbox)).keys()];
  await unlink(join(data, 'a-old.bin'));
  const second = await backupNow(sandbox, config, data);

  // A raw gRPC client that never consumes the call: asked for 'readable', grpc-js reads 16 messages, then nothing more.
  client = hostileClient(config, { 'grpc-node.flow_control_window': 65_535 });
  const call = client.restore({ backupId: second.number, clientName: '', paths: [], acceptsBatches: true, pathRegex: '', protocolVersion: 2, skipFifoContent: false, strip: 0 });
  call.on('readable', () => undefined);
  const outcome = new Promise<grpc.ServiceError | undefined>((resolve) => {
    call.once('error', resolve);
    call.once('end', () => resolve(undefined));
  });
  // Sixteen messages: past the entries, the kept file's content is being sent (its chunk places read).
  await waitUntil(() => call.readableLength >= 16, 'the restore to begin sending the kept file', 10_000);
  const restoreStartedAt = Date.now();

  const collections = collectionsEnded(server);
  const deletion = await sandbox.runClient(['-c', config, '-d', '1']);
  assert.equal(deletion.code, 0, deletion.stderr);
  await waitUntil(() => collectionsEnded(server) > collections, 'the GC after the deletion', 20_000);
  const stalledLine = /restore by node1 of node1 backup 2: client "node1" at \S+ took nothing the server sent for 4 s \(idle_timeout\); the call was ended/;
  if (!stalledLine.test(server.log())) {
    const present = await packSizes(sandbox);
    assert.deepEqual(oldPacks.filter((pack) => !present.has(pack)), [], 'a doomed pack stays while a reader that read a chunk place in it reads');
    t.diagnostic(`GC ran ${Date.now() - restoreStartedAt} ms into the stalled restore, its doomed pack kept`);
  }

  assert.match(server.log(), / gc: .* 1 rewritten/);
  const gone = async (): Promise<boolean> => {
    const present = await packSizes(sandbox);
    return oldPacks.filter((pack) => !present.has(pack)).length === 1;
  };
  await waitUntil(gone, 'the doomed pack to be deleted once the stalled restore was ended', 20_000, () => server.log());
  assert.match(server.log(), stalledLine);

  // The client hears it once it reads again: what was buffered, then the end, never a restore that looks complete.
  call.removeAllListeners('readable');
  call.resume();
  const error = await outcome;
  assert.equal(error?.code, grpc.status.RESOURCE_EXHAUSTED, `${error?.code} ${error?.details}`);

  // Honest restores are unaffected.
  await assertRestoresExactly(sandbox, config, [second]);
});
