// ByteBoundedWriter (server/byte-bounded-writer.ts): a restore's messages wait while more than the bound of
// content is queued, not only once grpc-js's 16 messages are; and a peer that goes away ends the wait.
// A real objectMode Writable stands for the call: its sink flushes when the test says so. Each gets a drain limit
// far beyond the test's own timeout, as backup-server.ts gives every call one (drain-limit.test.ts tests it).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { setImmediate as turn } from 'node:timers/promises';
import { ByteBoundedWriter } from '../src/server/byte-bounded-writer';
import { restoreContentBytes } from '../src/server/restore-content-bytes';
import type { RestoreResponse } from '../src/proto/cpsbackup';
import { BackupError } from '../src/common/errors';
import { withDrainLimit } from '../src/server/drain-limit';

interface Message { readonly bytes: number }

/** An objectMode stream with grpc-js's buffer of 16 messages whose writes complete only when flushOne() runs. */
function slowStream(): { stream: Writable & { cancelled?: boolean }; flushOne(): void; received: number[] } {
  const waiting: (() => void)[] = [];
  const received: number[] = [];
  const stream = new Writable({
    objectMode: true,
    highWaterMark: 16,
    write(message: Message, _encoding, callback) {
      received.push(message.bytes);
      waiting.push(() => callback());
    },
  });
  withDrainLimit(stream, { milliseconds: 3_600_000, setting: 'idle_timeout', caller: 'the test' });
  return { stream, flushOne: () => waiting.shift()?.(), received };
}

test('a write waits while more than the bound of content is unflushed, and goes on as messages flush', { timeout: 10_000 }, async () => {
  const { stream, flushOne } = slowStream();
  const writer = new ByteBoundedWriter<Message>(stream, (message) => message.bytes, 4);
  await writer.write({ bytes: 2 });
  await writer.write({ bytes: 2 });
  let isDone = false;
  const third = writer.write({ bytes: 2 }).then(() => { isDone = true; });
  await turn();
  assert.equal(isDone, false, 'six bytes queued against a bound of four: the third write must wait');
  flushOne(); // the first message: four bytes left unflushed, within the bound
  await third;
  assert.equal(isDone, true);
});

test('one message bigger than the bound goes alone: the next write waits for it', { timeout: 10_000 }, async () => {
  const { stream, flushOne, received } = slowStream();
  const writer = new ByteBoundedWriter<Message>(stream, (message) => message.bytes, 4);
  let isDone = false;
  const big = writer.write({ bytes: 10 }).then(() => { isDone = true; });
  await turn();
  assert.equal(isDone, false);
  assert.deepEqual(received, [10]);
  flushOne();
  await big;
  await writer.write({ bytes: 1 });
  assert.deepEqual(received, [10, 1]);
});

test('a peer that goes away while a write waits ends it with an interruption, not a hang', { timeout: 10_000 }, async () => {
  for (const leave of ['close', 'cancelled'] as const) {
    const { stream } = slowStream();
    const writer = new ByteBoundedWriter<Message>(stream, (message) => message.bytes, 4);
    const waiting = writer.write({ bytes: 8 });
    await turn();
    if (leave === 'close') stream.destroy();
    else stream.emit('cancelled');
    await assert.rejects(waiting, (error: unknown) => error instanceof BackupError && error.code === 'INTERRUPTED', leave);
    assert.equal(stream.listenerCount('cancelled'), 0, `${leave}: the wait left a listener behind`);
  }
});

test('a write to a stream already destroyed fails at once', { timeout: 10_000 }, async () => {
  const { stream } = slowStream();
  stream.on('error', () => undefined);
  stream.destroy();
  const writer = new ByteBoundedWriter<Message>(stream, (message) => message.bytes, 4);
  await assert.rejects(writer.write({ bytes: 1 }), (error: unknown) => error instanceof BackupError && error.code === 'INTERRUPTED');
});

test('a message without content does not wait for content to go', { timeout: 10_000 }, async () => {
  const { stream, received } = slowStream();
  const writer = new ByteBoundedWriter<Message>(stream, (message) => message.bytes, 4);
  const big = writer.write({ bytes: 10 });
  big.catch(() => undefined);
  await writer.write({ bytes: 0 });
  assert.deepEqual(received, [10], 'the second message is queued behind the first, its write returned');
});

test('a restore message counts the content it carries: chunks, bytes, inline contents, nothing else', () => {
  const chunk = (bytes: number) => ({ hash: Buffer.alloc(32), rawSize: bytes * 2, codec: 1, payload: Buffer.alloc(bytes) });
  const entry = (content: number, chunks: number[]) => ({ content: Buffer.alloc(content), chunks: chunks.map(chunk), sha256: Buffer.alloc(32), chunkHashes: Buffer.alloc(64) });
  const cases: [RestoreResponse, number][] = [
    [{ message: { $case: 'chunks', value: { chunks: [chunk(100), chunk(28)] } } }, 128],
    [{ message: { $case: 'data', value: { chunk: Buffer.alloc(77) } } }, 77],
    [{ message: { $case: 'batch', value: { entries: [entry(10, [5, 6]), entry(0, []), entry(3, [])] } } } as RestoreResponse, 24],
    [{ message: { $case: 'entryEnd', value: { sha256: Buffer.alloc(32), size: 1000, damage: '' } } }, 0],
  ];
  for (const [response, bytes] of cases) assert.equal(restoreContentBytes(response), bytes, response.message?.$case);
});
