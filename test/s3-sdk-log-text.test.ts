// Regression (restore fidelity review, F4): a server's first start on a new bucket logged
// "error s3 client: [object Object]" twice: the SDK logs a failed command as an object.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sdkLogText } from '../src/chunkstore/backend/s3/s3-options';

test('what the S3 SDK logs reads as one line naming the command and its error, never its input', () => {
  const error = Object.assign(new Error('Not Found'), { name: 'NotFound' });
  const logged = { clientName: 'S3Client', commandName: 'HeadBucketCommand', input: { Bucket: 'b', Body: 'secret body' }, error, metadata: { httpStatusCode: 404 } };
  assert.equal(sdkLogText(logged), 'HeadBucketCommand: NotFound: Not Found (HTTP 404)');
  assert.doesNotMatch(sdkLogText(logged), /secret/);
  assert.equal(sdkLogText('plain words'), 'plain words');
  assert.equal(sdkLogText(new TypeError('bad')), 'TypeError: bad');
  assert.equal(sdkLogText({}), 'a request: failed');
});
