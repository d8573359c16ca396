// Guards the hand-written Data frame encoder: its bytes must equal what ts-proto writes,
// or file content would arrive altered (or not at all) on the other side.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { encodeDataMessage } from '../src/common/wire/fast-service';
import { RestoreResponse, UploadRequest } from '../src/proto/cpsbackup';

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
