// Downloads a whole object to a file: streamed into a temp file beside the target, fsynced, then
// renamed over it, so a failed or retried download never leaves a partial target.
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { TransientS3Failure } from './s3-errors';
import type { S3Requester } from './s3-requester';

export async function downloadObject(requester: S3Requester, key: string, toFile: string): Promise<void> {
  const temporary = join(dirname(toFile), `.${basename(toFile)}.${randomBytes(6).toString('hex')}.part`);
  try {
    await requester.run('get', key, async () => {
      const answer = await requester.client.send(new GetObjectCommand({ Bucket: requester.bucket, Key: key }));
      const body = answer.Body as Readable | undefined;
      if (body === undefined) throw new TransientS3Failure('the service sent no body', 'NoBody');
      // Each attempt starts the file over ('w' truncates).
      await pipeline(body, createWriteStream(temporary, { flags: 'w', mode: 0o600 }));
      const written = (await stat(temporary)).size;
      if (answer.ContentLength !== undefined && written !== answer.ContentLength) {
        throw new TransientS3Failure(`the body ended after ${written} of ${answer.ContentLength} bytes`);
      }
      return written;
    }, (written) => written);
    const handle = await open(temporary, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, toFile);
  } finally {
    await rm(temporary, { force: true });
  }
}
