// Aborts the multipart uploads a crash left behind (a server killed mid-upload, a gateway that died
// before our abort): not objects, but their parts hold space until someone aborts them.
import { AbortMultipartUploadCommand, ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import type { ObjectKeys } from './object-keys';
import { checkNextPage } from './listing';
import type { S3Requester } from './s3-requester';

/**
 * Aborts this store's uploads started more than olderThanMs ago, by the service's clock as near as ours
 * tells. Only keys this store's layout would write count (`<prefix>packs/xx/<name>`, `<prefix>blobs/<name>`):
 * the store's bare prefix is never listed, since with s3_prefix "" it is the whole bucket and with "a/" it
 * holds a store under "a/b/". Returns how many were aborted.
 */
export async function abortAbandonedUploads(requester: S3Requester, keys: ObjectKeys, olderThanMs: number): Promise<number> {
  const cutoff = Date.now() - olderThanMs;
  const isOurs = (key: string): boolean => keys.packNameOf(key) !== undefined || keys.blobNameOf(key) !== undefined;
  let aborted = 0;
  for (const prefix of [keys.packsPrefix, keys.blobsPrefix]) {
    for await (const upload of listUploads(requester, prefix)) {
      if (!isOurs(upload.key) || upload.initiatedAt.getTime() > cutoff) continue;
      await requester.run('abort-upload', upload.key, () => requester.client.send(
        new AbortMultipartUploadCommand({ Bucket: requester.bucket, Key: upload.key, UploadId: upload.uploadId })));
      aborted += 1;
    }
  }
  return aborted;
}

interface ListedUpload {
  readonly key: string;
  readonly uploadId: string;
  readonly initiatedAt: Date;
}

/** Every upload under prefix, page after page; a page that says "more" without moving on is an I/O error (checkNextPage), not a loop. */
async function* listUploads(requester: S3Requester, prefix: string): AsyncGenerator<ListedUpload> {
  let markers: { KeyMarker?: string; UploadIdMarker?: string } = {};
  const seen = new Set<string>();
  for (;;) {
    const sent = markers;
    const page = await requester.run('list-uploads', prefix, () => requester.client.send(
      new ListMultipartUploadsCommand({ Bucket: requester.bucket, Prefix: prefix, ...sent })));
    for (const upload of page.Uploads ?? []) {
      // An upload without a start time is never taken for an old one.
      if (upload.Key !== undefined && upload.UploadId !== undefined) {
        yield { key: upload.Key, uploadId: upload.UploadId, initiatedAt: upload.Initiated ?? new Date() };
      }
    }
    if (page.IsTruncated !== true) return;
    markers = { KeyMarker: page.NextKeyMarker, UploadIdMarker: page.NextUploadIdMarker };
    const position = markers.KeyMarker === undefined ? undefined : `${markers.KeyMarker}\n${markers.UploadIdMarker ?? ''}`;
    checkNextPage({ requester, operation: 'list-uploads', prefix, paging: 'ListMultipartUploads' }, seen, position, 'key and upload marker');
  }
}
