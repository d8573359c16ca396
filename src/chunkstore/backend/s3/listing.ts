// Lists every key under a prefix, page after page (ListObjectsV2 continuation); each page retried on
// its own, so a listing of many thousand packs survives a transient failure halfway.
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { S3Requester } from './s3-requester';

export interface ListedKey {
  readonly key: string;
  readonly size: number;
  readonly modifiedAt: Date;
}

export async function* listKeys(requester: S3Requester, prefix: string, pageSize = 1000): AsyncGenerator<ListedKey> {
  let continuationToken: string | undefined;
  do {
    const token = continuationToken;
    const page = await requester.run('list', prefix, () => requester.client.send(new ListObjectsV2Command({
      Bucket: requester.bucket, Prefix: prefix, MaxKeys: pageSize, ContinuationToken: token,
    })));
    for (const object of page.Contents ?? []) {
      if (object.Key !== undefined) yield { key: object.Key, size: object.Size ?? 0, modifiedAt: object.LastModified ?? new Date(0) };
    }
    continuationToken = page.IsTruncated === true ? page.NextContinuationToken : undefined;
  } while (continuationToken !== undefined);
}
