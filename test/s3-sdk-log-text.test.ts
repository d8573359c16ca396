// Regression (restore fidelity review, F4): a server's first start on a new bucket logged
// "error s3 client: [object Object]" twice: the SDK logs a failed command as an object.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sdkLoggerFor, sdkLogText } from '../src/chunkstore/backend/s3/s3-options';
import type { Logger } from '../src/common/logger';

test('what the S3 SDK logs reads as one line naming the command and its error, never its input', () => {
  const error = Object.assign(new Error('Not Found'), { name: 'NotFound' });
  const logged = { clientName: 'S3Client', commandName: 'HeadBucketCommand', input: { Bucket: 'b', Body: 'secret body' }, error, metadata: { httpStatusCode: 404 } };
  assert.equal(sdkLogText(logged), 'HeadBucketCommand: NotFound: Not Found (HTTP 404)');
  assert.doesNotMatch(sdkLogText(logged), /secret/);
  assert.equal(sdkLogText('plain words'), 'plain words');
  assert.equal(sdkLogText(new TypeError('bad')), 'TypeError: bad');
  assert.equal(sdkLogText({}), 'a request: failed');
});

test('a missing object or bucket (HTTP 404) is an answer the store asked for, not logged; other failures are warnings, never errors', () => {
  const lines: string[] = [];
  const logger: Logger = {
    info: () => undefined, warn: (text: string) => { lines.push(`warn ${text}`); }, error: (text: string) => { lines.push(`error ${text}`); },
  };
  const sdk = sdkLoggerFor(logger);
  const failed = (name: string, status: number): Record<string, unknown> => ({
    commandName: 'HeadBucketCommand', error: Object.assign(new Error('UnknownError'), { name, $metadata: { httpStatusCode: status } }), metadata: { httpStatusCode: status },
  });
  sdk.error(failed('NotFound', 404));
  sdk.error({ commandName: 'GetObjectCommand', error: Object.assign(new Error('UnknownError'), { name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } }) });
  assert.deepEqual(lines, []);
  sdk.error(failed('ServiceUnavailable', 503));
  sdk.warn('plain words');
  assert.deepEqual(lines, ['warn s3 client: HeadBucketCommand: ServiceUnavailable: UnknownError (HTTP 503)', 'warn s3 client: plain words']);
});
