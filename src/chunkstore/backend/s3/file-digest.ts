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

/**
 * The ETag S3 gives a multipart object: MD5 of the binary values of the part ETags the service
 * returned, then "-" and the part count. Computed from the service's part ETags, not from our own
 * MD5s: with SSE-KMS or SSE-C a part's ETag is not the MD5 of its bytes, yet the object's ETag is still
 * built from the part ETags. Undefined when a part ETag is not 32 hex digits (nothing to compare).
 */
export function multipartEtagOf(partEtags: readonly string[]): string | undefined {
  const digests: Buffer[] = [];
  for (const etag of partEtags) {
    const hex = etag.replace(/"/g, '');
    if (!/^[0-9a-fA-F]{32}$/.test(hex)) return undefined;
    digests.push(Buffer.from(hex, 'hex'));
  }
  return `${createHash('md5').update(Buffer.concat(digests)).digest('hex')}-${digests.length}`;
}
