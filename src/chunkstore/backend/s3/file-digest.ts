// MD5 of a byte range of a staged file, streamed: sent as Content-MD5 so the object store refuses
// (BadDigest) a body that differs from the file before it stores anything.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

export async function md5OfFileRange(file: string, start: number, length: number): Promise<Buffer> {
  const hash = createHash('md5');
  let seen = 0;
  if (length > 0) {
    for await (const chunk of createReadStream(file, { start, end: start + length - 1, highWaterMark: 1024 * 1024 })) {
      hash.update(chunk as Buffer);
      seen += (chunk as Buffer).length;
    }
  }
  if (seen !== length) throw new Error(`${file} changed while being uploaded: ${seen} bytes at ${start}, expected ${length}`);
  return hash.digest();
}

/** The ETag S3 gives a multipart object: MD5 of the parts' MD5s, then "-" and the part count. */
export function multipartEtag(partDigests: readonly Buffer[]): string {
  return `${createHash('md5').update(Buffer.concat(partDigests)).digest('hex')}-${partDigests.length}`;
}
