// Errors of a call, as the client shows them: the server's typed errors keep their type and message,
// and a message this client could not encode or decode is said to be this client's, not the server's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { fromServiceError, ServerUnreachableError } from '../src/client/remote-error';
import { BackupError, DiskFullError, ProtocolError } from '../src/common/errors';

function status(code: grpc.status, details: string, errorCode?: string): grpc.ServiceError {
  const metadata = new grpc.Metadata();
  if (errorCode !== undefined) metadata.set('cpsbackup-error-code', errorCode);
  return Object.assign(new Error(`${code} ${grpc.status[code]}: ${details}`), { code, details, metadata });
}

test("grpc-js's local encode and decode failures are this client's, never \"server error\"", () => {
  // The wording grpc-js gives them (client-interceptors.js), with the codec's own reason after it.
  const encode = fromServiceError(status(grpc.status.INTERNAL, 'Request message serialization failure: mtimeNsec -5 is not an integer from 0 to 2^32 - 1'), 'server:1');
  assert.ok(encode instanceof ProtocolError);
  assert.equal(encode.message, 'this client could not encode a message to the server: mtimeNsec -5 is not an integer from 0 to 2^32 - 1');
  const decode = fromServiceError(status(grpc.status.INTERNAL, 'Response message parsing error: field 0 is not a field'), 'server:1');
  assert.ok(decode instanceof ProtocolError);
  assert.equal(decode.message, 'this client could not read a message from the server: field 0 is not a field');
});

test("the server's own errors keep their type, and an untyped one is the server's", () => {
  const full = fromServiceError(status(grpc.status.RESOURCE_EXHAUSTED, 'the store is full', 'DISK_FULL'), 'server:1');
  assert.ok(full instanceof DiskFullError);
  assert.equal(full.message, 'the store is full');
  const internal = fromServiceError(status(grpc.status.INTERNAL, 'internal server error (see the server log)'), 'server:1');
  assert.ok(internal instanceof BackupError);
  assert.equal(internal.message, 'server error: internal server error (see the server log)');
  assert.ok(fromServiceError(status(grpc.status.UNAVAILABLE, 'No connection established'), 'server:1') instanceof ServerUnreachableError);
});
