// How the client words a call whose connection went away (src/client/dropped-call.ts): once the server had
// answered the call, a reset or a stream ended without status is a dropped connection, not a server error
// and not a certificate to doubt; before any answer, grpc-js's words are kept for remote-error.ts to probe.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { droppedCallStatus } from '../src/client/dropped-call';
import { fromServiceError, ServerUnreachableError } from '../src/client/remote-error';

function status(code: grpc.status, details: string): grpc.StatusObject {
  return { code, details, metadata: new grpc.Metadata() };
}

test('a call the server had answered and whose connection then reset ends as "Connection dropped"', () => {
  for (const details of ['read ECONNRESET', 'write EPIPE', 'read ETIMEDOUT']) {
    const dropped = droppedCallStatus(status(grpc.status.UNAVAILABLE, details), true);
    assert.deepEqual([dropped.code, dropped.details], [grpc.status.UNAVAILABLE, 'Connection dropped'], details);
    // Before the server answered, the reset may be a refused certificate (TLS 1.3): kept as it was, and probed.
    assert.equal(droppedCallStatus(status(grpc.status.UNAVAILABLE, details), false).details, details);
  }
  const cancelled = droppedCallStatus(status(grpc.status.CANCELLED, 'Call cancelled'), true);
  assert.deepEqual([cancelled.code, cancelled.details], [grpc.status.UNAVAILABLE, 'Connection dropped']);
  assert.equal(droppedCallStatus(status(grpc.status.CANCELLED, 'Cancelled on client'), true).details, 'Cancelled on client');
});

test('a stream the server ended without a status is a dropped connection, not "server error: Received RST_STREAM"', () => {
  const raw = status(grpc.status.INTERNAL, 'Received RST_STREAM with code 0 (Call ended without gRPC status)');
  for (const isAnswered of [false, true]) {
    const dropped = droppedCallStatus(raw, isAnswered);
    const error = fromServiceError(Object.assign(new Error(dropped.details), dropped), 'backup.lan:4200');
    assert.ok(error instanceof ServerUnreachableError);
    assert.match(error.message, /^the connection to the backup server at backup\.lan:4200 dropped: the server stopped/);
  }
  // Other statuses are the server's own, untouched.
  const internal = status(grpc.status.INTERNAL, 'Received RST_STREAM with code 2 (Internal server error)');
  assert.equal(droppedCallStatus(internal, true), internal);
});
