// The client's UploadStream bounds the file content sent but not yet handed to HTTP/2 (4 MiB), not
// only grpc-js's 16 queued messages: a send with content waits, one without does not, and a call that
// fails or ends while a send waits ends the wait with the reason. A real objectMode Duplex stands for
// the call: its writes complete when the test flushes them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import { setImmediate as turn } from 'node:timers/promises';
import type * as grpc from '@grpc/grpc-js';
import type { UploadRequest, UploadResponse } from '../src/proto/cpsbackup';
import { UploadStream } from '../src/client/upload-stream';

const MIB = 1024 * 1024;

function slowCall(): { call: grpc.ClientDuplexStream<UploadRequest, UploadResponse>; flushOne(): void; written: UploadRequest[] } {
  const waiting: (() => void)[] = [];
  const written: UploadRequest[] = [];
  const duplex = new Duplex({
    objectMode: true,
    highWaterMark: 16,
    read() { /* responses are pushed by the test */ },
    write(request: UploadRequest, _encoding, callback) {
      written.push(request);
      waiting.push(() => callback());
    },
  });
  Object.assign(duplex, { cancel: () => duplex.destroy() });
  return { call: duplex as unknown as grpc.ClientDuplexStream<UploadRequest, UploadResponse>, flushOne: () => waiting.shift()?.(), written };
}

function data(bytes: number): UploadRequest {
  return { message: { $case: 'data', value: { chunk: Buffer.alloc(bytes) } } };
}

const query: UploadRequest = { message: { $case: 'query', value: { queryId: 1, hashes: Buffer.alloc(32) } } };

test('content waits while more than 4 MiB of it is unsent; a query goes at once', { timeout: 10_000 }, async () => {
  const { call, flushOne, written } = slowCall();
  const stream = new UploadStream(call, (error) => error as Error);
  await stream.send(data(3 * MIB));
  let isSent = false;
  const second = stream.send(data(3 * MIB)).then(() => { isSent = true; });
  await turn();
  assert.equal(isSent, false, '6 MiB unsent: the second send must wait');
  await stream.send(query);
  assert.equal(written.length, 1, 'only the first message reached the call\'s sink; the rest are queued in order');
  flushOne();
  await second;
  assert.equal(isSent, true);
});

test('a call that fails while a send waits ends the wait with the failure', { timeout: 10_000 }, async () => {
  const { call } = slowCall();
  const stream = new UploadStream(call, (error) => new Error(`translated: ${(error as Error).message}`));
  const waiting = stream.send(data(5 * MIB));
  await turn();
  call.emit('error', new Error('connection reset'));
  await assert.rejects(waiting, /translated: connection reset/);
});

test('a call the server ends while a send waits ends the wait', { timeout: 10_000 }, async () => {
  const { call } = slowCall();
  const stream = new UploadStream(call, (error) => error as Error);
  const waiting = stream.send(data(5 * MIB));
  await turn();
  call.emit('end');
  await assert.rejects(waiting, /ended the backup without confirming it/);
});
