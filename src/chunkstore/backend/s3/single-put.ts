// One conditional PUT of a whole staged file: streamed from disk, Content-MD5 checked by the service,
// `If-None-Match: *` so an existing object is never overwritten (412).
import { createReadStream } from 'node:fs';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { failureFacts, S3RequestError } from './s3-errors';
import { md5OfFileRange } from './file-digest';
import { isSameObject } from './object-head';
import type { S3Requester } from './s3-requester';

export type PutOutcome = 'created' | 'exists';

export async function putSingle(requester: S3Requester, key: string, file: string, size: number): Promise<PutOutcome> {
  const md5 = await md5OfFileRange(file, 0, size);
  // Set when an attempt failed without an answer: that attempt may have stored the object.
  let isAmbiguous = false;
  try {
    await requester.run('put', key, async () => {
      const body = size > 0 ? createReadStream(file, { start: 0, end: size - 1, highWaterMark: 1024 * 1024 }) : undefined;
      try {
        await requester.client.send(new PutObjectCommand({
          Bucket: requester.bucket, Key: key, Body: body ?? Buffer.alloc(0), ContentLength: size, ContentMD5: md5.toString('base64'),
          ContentType: 'application/octet-stream', IfNoneMatch: '*',
        }));
      } catch (error) {
        if (failureFacts(error).isTransient) isAmbiguous = true;
        throw error;
      } finally {
        body?.destroy();
      }
    }, () => size);
    return 'created';
  } catch (error) {
    if (error instanceof S3RequestError && error.status === 412) {
      // A lost answer followed by 412: the object is ours if it holds exactly our bytes.
      if (isAmbiguous && await isSameObject(requester, key, size, md5.toString('hex'))) return 'created';
      return 'exists';
    }
    throw error;
  }
}
