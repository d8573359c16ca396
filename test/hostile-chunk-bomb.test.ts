// Regression: a client could block the server's only thread with compressed chunks. A 512 KiB run of
// zeros is a zstd frame of some 30 bytes, so one 4 MiB ChunkBatch carried ~50,000 of them (~25 GiB to
// decode and hash, all before anything was stored), and a chunk repeated in a message was decoded each
// time. Now the raw bytes a message declares are bounded (well above what a client sends) and each
// distinct chunk of a message is decoded once; honest backups of highly compressible data still work.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import * as grpc from '@grpc/grpc-js';
import { Sandbox } from './support/sandbox';
import { assertRestoresExactly, backupNow, listedNumbers } from './support/fault-tools';
import { begin, commit, hostileClient, sendUpload } from './support/hostile-client';
import { openStoreFixture, SMALL_CHUNKS } from './support/store-fixture';
import { ChunkCodec } from '../src/chunkstore/codec';
import { maxRawBytesPerMessage } from '../src/chunkstore/session/chunk-intake';
import type { UploadRequest } from '../src/proto/cpsbackup';

const MEBIBYTE = 1024 * 1024;
const DEFAULT_MAX_CHUNK = 512 * 1024;

function sha256(bytes: Buffer): Buffer {
  return createHash('sha256').update(bytes).digest();
}

test('a batch of 4,000 compressed runs of zeros is refused before any is decoded; other clients go on', async (t) => {
  const sandbox = await Sandbox.create({ clients: ['node1', 'node2'] });
  t.after(() => sandbox.destroy());
  await sandbox.startServer();
  const nothing = join(sandbox.root, 'nothing');
  await mkdir(nothing);
  const config2 = await sandbox.writeNodeConfig('node2', [`include = ${nothing}`]);
  const client = hostileClient(config2);
  t.after(() => client.close());

  const zeros = Buffer.alloc(DEFAULT_MAX_CHUNK);
  const frame = new ChunkCodec(19).encode(zeros).payload;
  assert.ok(frame.length < 64, `a frame of ${frame.length} bytes`);
  const bomb = { hash: sha256(zeros), rawSize: zeros.length, codec: 1, payload: frame };
  // Within the count a message may carry (MAX_CHUNKS_PER_MESSAGE), far beyond the bytes it may declare.
  const count = 4000;
  const batch: UploadRequest = { message: { $case: 'chunks', value: { chunks: Array.from({ length: count }, () => bomb) } } };
  const outcome = await sendUpload(client, [begin, batch, commit]);
  assert.equal(outcome.error?.code, grpc.status.RESOURCE_EXHAUSTED, outcome.error?.details ?? 'the batch was accepted');
  const limit = maxRawBytesPerMessage(DEFAULT_MAX_CHUNK);
  assert.match(outcome.error!.details,
    new RegExp(`client "node2" sent ${count} chunks declaring ${count * zeros.length} bytes in one message; the limit is ${limit} bytes .*per message: refused`));
  assert.deepEqual(await listedNumbers(sandbox, config2), []);

  // The server still serves: another client backs up and restores.
  const data = join(sandbox.root, 'data');
  await mkdir(data);
  await writeFile(join(data, 'file.txt'), 'served after the bomb\n');
  const config1 = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
  await assertRestoresExactly(sandbox, config1, [await backupNow(sandbox, config1, data)]);
});

test('a chunk repeated in one message is decoded once', async (t) => {
  const fixture = await openStoreFixture();
  t.after(() => fixture.destroy());
  const session = await fixture.store.beginBackup('node1', { kind: 0, hostname: 'test', labels: {}, parentNumber: 0 });
  const raw = Buffer.from('a run that compresses well '.repeat(2000)).subarray(0, SMALL_CHUNKS.maxSize);
  const chunk = { hash: sha256(raw), rawSize: raw.length, codec: 1, payload: new ChunkCodec(3).encode(raw).payload };
  const decode = t.mock.method(ChunkCodec.prototype, 'decode');
  await session.receiveChunks(Array.from({ length: 8 }, () => chunk));
  assert.equal(decode.mock.callCount(), 1, 'eight copies of one chunk in a message');
  await session.abandon();
});

test('honest backups of highly compressible data (64 MiB of zeros, 32 MiB of numbered lines) work and restore exactly', async (t) => {
  const sandbox = await Sandbox.create({ clients: ['node1'] });
  t.after(() => sandbox.destroy());
  await sandbox.startServer();
  const data = join(sandbox.root, 'data');
  await mkdir(data);
  await writeFile(join(data, 'zeros.bin'), Buffer.alloc(64 * MEBIBYTE));
  const lines = createWriteStream(join(data, 'lines.log'));
  let written = 0;
  for (let line = 0; written < 32 * MEBIBYTE; line++) {
    const text = `${String(line).padStart(9, '0')} the same message again, as a log says it\n`;
    written += text.length;
    if (!lines.write(text)) await once(lines, 'drain');
  }
  lines.end();
  await finished(lines);
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
  const first = await backupNow(sandbox, config, data);
  const second = await backupNow(sandbox, config, data);
  await assertRestoresExactly(sandbox, config, [first, second]);
});
