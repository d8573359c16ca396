// Lists every key under a prefix, page after page (ListObjectsV2 continuation); each page retried on
// its own, so a listing of many thousand packs survives a transient failure halfway.
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { S3RequestError } from './s3-errors';
import type { S3Requester } from './s3-requester';

export interface ListedKey {
  readonly key: string;
  readonly size: number;
  readonly modifiedAt: Date;
}

/**
 * Ends only when the service says the listing is complete. A truncated page without a continuation
 * token, or a token seen before, is an I/O error: taken as the end, it would make check mark every
 * unlisted pack's chunks damaged for good and recover report them missing.
 */
export async function* listKeys(requester: S3Requester, prefix: string, pageSize = 1000): AsyncGenerator<ListedKey> {
  const seenTokens = new Set<string>();
  let continuationToken: string | undefined;
  for (;;) {
    const token = continuationToken;
    const page = await requester.run('list', prefix, () => requester.client.send(new ListObjectsV2Command({
      Bucket: requester.bucket, Prefix: prefix, MaxKeys: pageSize, ContinuationToken: token,
    })));
    for (const object of page.Contents ?? []) {
      if (object.Key !== undefined) yield { key: object.Key, size: object.Size ?? 0, modifiedAt: object.LastModified ?? new Date(0) };
    }
    if (page.IsTruncated !== true) return;
    continuationToken = page.NextContinuationToken;
    if (continuationToken === undefined || continuationToken === '') throw brokenListing(requester, prefix, 'a truncated page came without a continuation token');
    if (seenTokens.has(continuationToken)) throw brokenListing(requester, prefix, `the continuation token "${continuationToken.slice(0, 40)}" came twice`);
    seenTokens.add(continuationToken);
  }
}

function brokenListing(requester: S3Requester, prefix: string, detail: string): S3RequestError {
  return new S3RequestError({ operation: 'list', bucket: requester.bucket, key: prefix, endpoint: requester.settings.endpoint },
    { status: undefined, code: 'BrokenListing', isTransient: false }, 1,
    `${detail}; the listing is incomplete and is not used (a gateway or proxy that breaks ListObjectsV2 paging?)`);
}
