// Guards the hand-written Data and EntryBatch codec: its bytes must equal what ts-proto writes and
// its decoding what ts-proto reads, or file content would arrive altered (or not at all).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  FastBackupService, PreparedData, deserializeRestoreResponse, deserializeUploadRequest, encodeDataMessage, serializeRestoreResponse,
  serializeRestoreResponseTransient, serializeUploadRequest,
} from '../src/common/wire/fast-service';
import { BatchedEntry, EntryType, RestoreResponse, UploadRequest, type EntryBatch, type EntryMeta } from '../src/proto/cpsbackup';
import { varintLength, writeVarint } from '../src/common/wire/varint';
import { ProtocolError } from '../src/common/errors';

test('encodeDataMessage writes the same bytes as the generated encoders, at every varint boundary', () => {
  for (const size of [0, 1, 126, 127, 128, 300, 16_381, 16_383, 16_384, 1_048_576, 2_097_151, 2_097_152, 3_000_000]) {
    const chunk = randomBytes(size);
    const fast = encodeDataMessage(chunk);
    assert.deepEqual(fast, Buffer.from(UploadRequest.encode({ message: { $case: 'data', value: { chunk } } }).finish()), `upload, ${size} bytes`);
    assert.deepEqual(fast, Buffer.from(RestoreResponse.encode({ message: { $case: 'data', value: { chunk } } }).finish()), `restore, ${size} bytes`);
    const decoded = UploadRequest.decode(fast).message;
    assert.equal(decoded?.$case, 'data');
    assert.ok(decoded?.$case === 'data' && Buffer.from(decoded.value.chunk).equals(chunk));
  }
});

test('a PreparedData message filled in place serializes to the same bytes as the generated encoder, at every varint boundary', () => {
  for (const size of [1, 127, 128, 16_383, 16_384, 1_048_576, 2_097_152]) {
    const chunk = randomBytes(size);
    const prepared = new PreparedData(size);
    chunk.copy(prepared.chunk);
    const expected = Buffer.from(RestoreResponse.encode({ message: { $case: 'data', value: { chunk } } }).finish());
    const fast = serializeRestoreResponse({ message: { $case: 'data', value: prepared } });
    assert.deepEqual(fast, expected, `${size} bytes`);
    assert.equal(fast.buffer, prepared.message.buffer, 'sent as it is, not copied');
    assert.deepEqual(serializeUploadRequest({ message: { $case: 'data', value: prepared } }), expected);
  }
  const empty = serializeRestoreResponse({ message: { $case: 'data', value: new PreparedData(0) } });
  assert.deepEqual(empty, Buffer.from(RestoreResponse.encode({ message: { $case: 'data', value: { chunk: Buffer.alloc(0) } } }).finish()));
});

function lengthDelimited(field: number, bytes: Buffer): Buffer {
  const header = Buffer.alloc(1 + varintLength(bytes.length));
  header[0] = (field << 3) | 2;
  writeVarint(header, 1, bytes.length);
  return Buffer.concat([header, bytes]);
}

function sampleBatch(): EntryBatch {
  const meta = (path: string, type: EntryType, size: number): EntryMeta => ({
    path: Buffer.from(path), type, mode: 0o644, uid: 1000, gid: 1000, mtimeSec: 1_700_000_000, mtimeNsec: 123_456_789, ctimeSec: 1_700_000_001,
    ctimeNsec: 5, inode: 2 ** 40 + 7, device: 2049, size, linkTarget: Buffer.from(type === EntryType.ENTRY_TYPE_SYMLINK ? '../target' : ''),
    user: 'alice', group: '', nlink: 2, rdev: 0, xattrs: [{ name: Buffer.from('user.x'), value: Buffer.from([0, 255]) }], extents: [], hardlinkTarget: Buffer.alloc(0), inodeFlags: 0, inodeFlagsKnown: false, damage: '',
  });
  const empty = Buffer.alloc(0);
  return { entries: [
    { meta: meta('/data', EntryType.ENTRY_TYPE_DIRECTORY, 0), sameAsParent: false, content: empty, sha256: empty, chunks: [], chunkHashes: Buffer.alloc(0) },
    { meta: meta('/data/unchanged.bin', EntryType.ENTRY_TYPE_FILE, 5), sameAsParent: true, content: empty, sha256: empty, chunks: [], chunkHashes: Buffer.alloc(0) },
    { meta: meta('/data/empty', EntryType.ENTRY_TYPE_FILE, 0), sameAsParent: false, content: empty, sha256: empty, chunks: [], chunkHashes: Buffer.alloc(0) },
    { meta: meta('/data/ünïcode ✓.txt', EntryType.ENTRY_TYPE_FILE, 300), sameAsParent: false, content: randomBytes(300), sha256: randomBytes(32), chunks: [], chunkHashes: Buffer.alloc(0) },
    { meta: meta('/data/link', EntryType.ENTRY_TYPE_SYMLINK, 0), sameAsParent: false, content: empty, sha256: empty, chunks: [], chunkHashes: Buffer.alloc(0) },
    { meta: meta('/data/big', EntryType.ENTRY_TYPE_FILE, 1_048_576), sameAsParent: false, content: randomBytes(1_048_576), sha256: randomBytes(32), chunks: [], chunkHashes: Buffer.alloc(0) },
    { meta: undefined, sameAsParent: false, content: randomBytes(3), sha256: empty, chunks: [], chunkHashes: Buffer.alloc(0) },
    { meta: undefined, sameAsParent: false, content: empty, sha256: empty, chunks: [], chunkHashes: empty,
      carried: { firstPath: Buffer.from('/data/a'), lastPath: Buffer.from([0x2f, 0x64, 0xff, 0x00, 0x80]), count: 20_000 } },
    { meta: undefined, sameAsParent: false, content: empty, sha256: empty, chunks: [], chunkHashes: empty, carried: { firstPath: empty, lastPath: empty, count: 0 } },
    { meta: undefined, sameAsParent: false, content: empty, sha256: empty, chunks: [], chunkHashes: empty,
      carried: { firstPath: Buffer.from('/x'), lastPath: Buffer.from('/x'), count: 2 ** 32 - 1 } },
  ] };
}

test('EntryBatch messages are written with the same bytes as the generated encoders and decode to the same values', () => {
  const batch = sampleBatch();
  const upload: UploadRequest = { message: { $case: 'batch', value: batch } };
  const restore: RestoreResponse = { message: { $case: 'batch', value: batch } };
  const uploadBytes = serializeUploadRequest(upload);
  const restoreBytes = serializeRestoreResponse(restore);
  assert.deepEqual(uploadBytes, Buffer.from(UploadRequest.encode(upload).finish()));
  assert.deepEqual(restoreBytes, Buffer.from(RestoreResponse.encode(restore).finish()));
  assert.deepEqual(deserializeUploadRequest(uploadBytes), UploadRequest.decode(uploadBytes));
  assert.deepEqual(deserializeRestoreResponse(restoreBytes), RestoreResponse.decode(restoreBytes));
  // Data frames decode without the generated code too; other messages still go through it.
  const chunk = randomBytes(70_000);
  assert.deepEqual(deserializeUploadRequest(encodeDataMessage(chunk)), { message: { $case: 'data', value: { chunk } } });
  assert.deepEqual(deserializeRestoreResponse(encodeDataMessage(Buffer.alloc(0))), { message: { $case: 'data', value: { chunk: Buffer.alloc(0) } } });
  const commit: UploadRequest = { message: { $case: 'commit', value: { warnings: ['w'], unreadableFiles: 3 } } };
  assert.deepEqual(deserializeUploadRequest(serializeUploadRequest(commit)), commit);
});

test('the server\'s restore serializer writes the same bytes into a scratch buffer, and grpc-js copies them before the next message', () => {
  assert.equal(FastBackupService.restore.responseSerialize, serializeRestoreResponseTransient);
  const chunk = (size: number): { hash: Buffer; rawSize: number; codec: number; payload: Buffer } => ({ hash: randomBytes(32), rawSize: size, codec: 1, payload: randomBytes(size) });
  const messages: RestoreResponse[] = [
    { message: { $case: 'batch', value: sampleBatch() } },
    { message: { $case: 'chunks', value: { chunks: [chunk(300_000), chunk(1), chunk(700_000)] } } },
    { message: { $case: 'chunks', value: { chunks: [chunk(20)] } } },
    { message: { $case: 'chunks', value: { chunks: [chunk(5_000_000)] } } }, // past the scratch's bound: a buffer of its own
    { message: { $case: 'entryEnd', value: { sha256: randomBytes(32), size: 7, damage: '' } } },
  ];
  for (const message of messages) assert.deepEqual(serializeRestoreResponseTransient(message), serializeRestoreResponse(message));
  // What grpc-js's server does with a serializer's answer (server-interceptors.js, serializeMessage): copied into
  // the framed message at once. A grpc-js that kept the serializer's buffer would send bytes the next message
  // wrote over; this fails first.
  const { BaseServerInterceptingCall } = require('@grpc/grpc-js/build/src/server-interceptors') as {
    BaseServerInterceptingCall: { prototype: { serializeMessage(this: unknown, value: RestoreResponse): Buffer } };
  };
  const call = { handler: { serialize: serializeRestoreResponseTransient } };
  const framed = messages.map((message) => BaseServerInterceptingCall.prototype.serializeMessage.call(call, message));
  messages.forEach((message, index) => assert.deepEqual(framed[index].subarray(5), serializeRestoreResponse(message), `message ${index}`));
});

test('the batch decoder skips fields it does not know and refuses a truncated message', () => {
  const batch = sampleBatch();
  const bytes = serializeUploadRequest({ message: { $case: 'batch', value: batch } });
  // A newer sender's extra field 9 (varint) inside the first BatchedEntry is skipped.
  const entryBytes = Buffer.concat([Buffer.from(BatchedEntry.encode(batch.entries[3]).finish()), Buffer.from([9 << 3, 1])]);
  const extended = lengthDelimited(7, lengthDelimited(1, entryBytes));
  const decoded = deserializeUploadRequest(extended);
  assert.equal(decoded.message?.$case, 'batch');
  assert.ok(decoded.message?.$case === 'batch' && Buffer.from(decoded.message.value.entries[0].content).equals(batch.entries[3].content));
  assert.throws(() => deserializeUploadRequest(bytes.subarray(0, bytes.length - 10)), ProtocolError);
});
