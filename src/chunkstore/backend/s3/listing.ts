// Lists every key under a prefix, page after page (ListObjectsV2 continuation); each page retried on
// its own, so a listing of many thousand packs survives a transient failure halfway.
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { S3RequestError, type S3Operation } from './s3-errors';
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
      if (object.Key === undefined) continue;
      // Taken as 0, a size left out made every pack short: the start marked every chunk damaged.
      if (object.Size === undefined) throw brokenListing({ requester, operation: 'list', prefix, paging: 'ListObjectsV2' }, `the key "${object.Key.slice(0, 80)}" came without its size`);
      yield { key: object.Key, size: object.Size, modifiedAt: object.LastModified ?? new Date(0) };
    }
    if (page.IsTruncated !== true) return;
    continuationToken = page.NextContinuationToken;
    checkNextPage({ requester, operation: 'list', prefix, paging: 'ListObjectsV2' }, seenTokens, continuationToken || undefined, 'continuation token');
  }
}

/** Which listing a truncated page belongs to, for checkNextPage's error. */
export interface Listing {
  readonly requester: S3Requester;
  readonly operation: S3Operation;
  readonly prefix: string;
  /** The S3 call whose paging broke, for the message. */
  readonly paging: string;
}

/**
 * After a truncated page: where the next one starts must be given and new. Taken as the end instead,
 * an incomplete listing would be used as a whole one; followed, a repeated position loops for ever.
 * `position` is recorded in `seen`.
 */
export function checkNextPage(listing: Listing, seen: Set<string>, position: string | undefined, what: string): void {
  if (position === undefined) throw brokenListing(listing, `a truncated page came without a ${what}`);
  if (seen.has(position)) throw brokenListing(listing, `the ${what} "${position.slice(0, 40)}" came twice`);
  seen.add(position);
}

function brokenListing(listing: Listing, detail: string): S3RequestError {
  const { requester, operation, prefix, paging } = listing;
  return new S3RequestError({ operation, bucket: requester.bucket, key: prefix, endpoint: requester.settings.endpoint },
    { status: undefined, code: 'BrokenListing', isTransient: false }, 1,
    `${detail}; the listing is incomplete and is not used (a gateway or proxy that breaks ${paging} paging?)`);
}
