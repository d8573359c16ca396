// A multipart upload of a big staged file: parts streamed from disk with Content-MD5, a few in flight,
// each retried on its own; aborted on any failure; the result HEADed (RGW 16 completes with an empty
// ETag) and checked against the size and the multipart ETag the service's part ETags make.
import { createReadStream } from 'node:fs';
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, DeleteObjectCommand, UploadPartCommand,
} from '@aws-sdk/client-s3';
import { errorMessage } from '../../../common/errors';
import { failureFacts, S3RequestError } from './s3-errors';
import { md5OfFileRange, multipartEtagOf } from './file-digest';
import { headObject, type ObjectHead } from './object-head';
import { MAX_PARTS, MIN_PART_SIZE } from './s3-options';
import type { S3Event, S3Requester } from './s3-requester';
import type { PutOutcome } from './single-put';
import { runPool } from './run-pool';

/** A multipart object's ETag as S3 makes it: the MD5 of the parts' MD5s, a dash, the part count. */
const MULTIPART_ETAG = /^[0-9a-f]{32}-\d+$/;

export interface MultipartSettings {
  readonly partSize: number;
  readonly partConcurrency: number;
  readonly onEvent: ((event: S3Event) => void) | undefined;
}

/** Grows the part size when a file would need more than S3's 10,000 parts. */
export function partSizeFor(size: number, wanted: number): number {
  const needed = Math.ceil(size / MAX_PARTS);
  return Math.max(wanted, MIN_PART_SIZE, Math.ceil(needed / MIN_PART_SIZE) * MIN_PART_SIZE);
}

export async function putMultipart(requester: S3Requester, key: string, file: string, size: number, settings: MultipartSettings): Promise<PutOutcome> {
  // Neither S3's CreateMultipartUpload nor RGW 16's Complete honours If-None-Match (RGW overwrote an
  // existing object in our probe), so the existence check is ours: before the upload and right before
  // completing it. If-None-Match is still sent on Complete for the services that do honour it.
  if (await headObject(requester, key) !== undefined) return 'exists';
  const { bucket, client } = requester;
  const created = await requester.run('create-upload', key, () => client.send(new CreateMultipartUploadCommand({
    Bucket: bucket, Key: key, ContentType: 'application/octet-stream',
  })));
  const uploadId = created.UploadId;
  if (uploadId === undefined) throw new Error(`s3 create-upload s3://${bucket}/${key}: the service returned no upload id`);

  const partSize = partSizeFor(size, settings.partSize);
  const partCount = Math.max(1, Math.ceil(size / partSize));
  const etags: string[] = new Array<string>(partCount);
  // From the ETags the service gave the parts, not our MD5s: under SSE-KMS/SSE-C they differ.
  const expectedEtag = (): string | undefined => multipartEtagOf(etags);
  let isAmbiguous = false;
  try {
    await runPool(partCount, settings.partConcurrency, async (index) => {
      const start = index * partSize;
      const length = Math.min(partSize, size - start);
      const md5 = await md5OfFileRange(file, start, length);
      const answer = await requester.run('upload-part', key, async () => {
        const body = length > 0 ? createReadStream(file, { start, end: start + length - 1, highWaterMark: 1024 * 1024 }) : undefined;
        try {
          return await client.send(new UploadPartCommand({
            Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: index + 1,
            Body: body ?? Buffer.alloc(0), ContentLength: length, ContentMD5: md5.toString('base64'),
          }));
        } finally {
          body?.destroy();
        }
      }, () => length);
      etags[index] = answer.ETag ?? `"${md5.toString('hex')}"`;
      settings.onEvent?.({ type: 'part-uploaded', key, partNumber: index + 1, partCount });
    });
    if (await headObject(requester, key) !== undefined) {
      await abortQuietly(requester, key, uploadId, settings);
      return 'exists';
    }
    await requester.run('complete-upload', key, async () => {
      try {
        await client.send(new CompleteMultipartUploadCommand({
          Bucket: bucket, Key: key, UploadId: uploadId, IfNoneMatch: '*',
          MultipartUpload: { Parts: etags.map((etag, index) => ({ PartNumber: index + 1, ETag: etag })) },
        }));
      } catch (error) {
        if (failureFacts(error).isTransient) isAmbiguous = true;
        throw error;
      }
    });
  } catch (error) {
    // A Complete whose answer was lost may have completed: then its retry finds the upload gone (404
    // NoSuchUpload) or, where If-None-Match is honoured on Complete (AWS), the object there (412). Either
    // way the object may be ours, and is accepted only if it is exactly ours.
    const isCompleteRefused = error instanceof S3RequestError && error.operation === 'complete-upload' && (error.status === 404 || error.status === 412);
    if (!(isCompleteRefused && isAmbiguous && await isOurObject(requester, key, size, expectedEtag()))) {
      await abortQuietly(requester, key, uploadId, settings);
      if (error instanceof S3RequestError && error.status === 412 && error.operation === 'complete-upload') return 'exists';
      throw error;
    }
  }
  await confirmUpload(requester, key, size, expectedEtag());
  return 'created';
}

/** Whether the object there now has our size and, when both sides have a comparable one, our multipart ETag. */
async function isOurObject(requester: S3Requester, key: string, size: number, expectedEtag: string | undefined): Promise<boolean> {
  return isOurs(await headObject(requester, key), size, expectedEtag);
}

/** An ETag that is not "hex32-N" (some services, SSE-C on others) cannot be compared; size is then all that is checked. */
function isOurs(head: ObjectHead | undefined, size: number, expectedEtag: string | undefined): boolean {
  if (head === undefined || head.size !== size) return false;
  return expectedEtag === undefined || !MULTIPART_ETAG.test(head.etag) || head.etag === expectedEtag;
}

/**
 * The object must now be our bytes. A wrong size means the service assembled something else: the object is
 * removed (we created it) and the put fails. A wrong ETag alone fails the put but deletes nothing: each part's
 * bytes were proven by its Content-MD5, and an ETag scheme we do not know must not cost a stored object.
 */
async function confirmUpload(requester: S3Requester, key: string, size: number, expectedEtag: string | undefined): Promise<void> {
  const head = await headObject(requester, key);
  if (isOurs(head, size, expectedEtag)) return;
  const found = head === undefined ? 'no object' : `${head.size} bytes, ETag ${head.etag || '(none)'}`;
  const isSizeWrong = head !== undefined && head.size !== size;
  if (isSizeWrong) {
    await requester.run('delete', key, () => requester.client.send(new DeleteObjectCommand({ Bucket: requester.bucket, Key: key })))
      .catch(() => undefined);
  }
  throw new S3RequestError({ operation: 'complete-upload', bucket: requester.bucket, key, endpoint: requester.settings.endpoint },
    { status: undefined, code: 'UploadMismatch', isTransient: false }, 1,
    `after the upload the service holds ${found}, expected ${size} bytes, ETag ${expectedEtag ?? '(not comparable)'}`
    + `${head !== undefined && !isSizeWrong ? '; the object is left in place' : ''}`);
}

/** Best effort: a failed abort leaves an incomplete upload (no object), which abortIncompleteUploads clears later. */
async function abortQuietly(requester: S3Requester, key: string, uploadId: string, settings: MultipartSettings): Promise<void> {
  try {
    await requester.run('abort-upload', key, () => requester.client.send(new AbortMultipartUploadCommand({
      Bucket: requester.bucket, Key: key, UploadId: uploadId,
    })));
  } catch (error) {
    settings.onEvent?.({ type: 'abort-failed', key, reason: errorMessage(error) });
  }
}
