// Regression (security review): a client that stops reading while it still answers HTTP/2 pings held its call
// for ever: a restore's reader lease kept every pack GC doomed afterwards on disk. Every wait of a server stream
// for its client (writeWithBackpressure: Show, Find, Diff, Parent, Upload's replies; ByteBoundedWriter: Restore)
// now ends after the stream's drain limit, with an error naming the client and the key.
// A real objectMode Writable stands for the call; its writes never complete, as with a client that reads nothing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { BackupError } from '../src/common/errors';
import { withDrainLimit } from '../src/server/drain-limit';
import { writeWithBackpressure } from '../src/server/stream-write';
import { ByteBoundedWriter } from '../src/server/byte-bounded-writer';

const LIMIT_MS = 200;

// The limit's timer is unreferenced (a server's sockets keep it up): here nothing else would keep the process up.
let keepAlive: NodeJS.Timeout;
before(() => { keepAlive = setInterval(() => undefined, 1000); });
after(() => clearInterval(keepAlive));

/** grpc-js's buffer of 16 messages, none of which ever flushes. */
function unreadStream(): Writable {
  return new Writable({ objectMode: true, highWaterMark: 16, write: () => undefined });
}

function limited(stream: Writable): Writable {
  return withDrainLimit(stream, { milliseconds: LIMIT_MS, setting: 'idle_timeout', caller: 'client "node1" at 127.0.0.1:5000' });
}

function isDrainLimitError(error: unknown): boolean {
  return error instanceof BackupError && error.code === 'LIMIT'
    && /^client "node1" at 127\.0\.0\.1:5000 took nothing the server sent for 0\.2 s \(idle_timeout\); the call was ended$/.test(error.message);
}

test('a write waiting for a client that reads nothing ends after the drain limit, naming the client', { timeout: 10_000 }, async () => {
  const stream = limited(unreadStream());
  for (let index = 0; index < 15; index++) await writeWithBackpressure(stream, { index });
  const startedAt = Date.now();
  await assert.rejects(writeWithBackpressure(stream, { index: 16 }), isDrainLimitError);
  assert.ok(Date.now() - startedAt >= LIMIT_MS - 10, 'the wait lasted the limit');
  assert.equal(stream.listenerCount('drain'), 0, 'the wait left a listener behind');
});

test('a restore write waiting for its content to flush ends after the drain limit too', { timeout: 10_000 }, async () => {
  const writer = new ByteBoundedWriter<{ bytes: number }>(limited(unreadStream()), (message) => message.bytes, 4);
  await assert.rejects(writer.write({ bytes: 8 }), isDrainLimitError);
});

test('a stream given no drain limit is refused at its first wait, never left waiting without end', { timeout: 10_000 }, async () => {
  const stream = unreadStream();
  for (let index = 0; index < 15; index++) await writeWithBackpressure(stream, { index });
  await assert.rejects(writeWithBackpressure(stream, { index: 16 }), /has no drain limit/);
});
