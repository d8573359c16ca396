// HEAD of one object: its size and ETag, or undefined when it does not exist.
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { NotFoundError } from '../../../common/errors';
import type { S3Requester } from './s3-requester';

export interface ObjectHead {
  readonly size: number;
  /** Without quotes; "" when the service gave none. */
  readonly etag: string;
}

export async function headObject(requester: S3Requester, key: string): Promise<ObjectHead | undefined> {
  try {
    const head = await requester.run('head', key, () => requester.client.send(new HeadObjectCommand({ Bucket: requester.bucket, Key: key })));
    return { size: head.ContentLength ?? 0, etag: (head.ETag ?? '').replace(/"/g, '') };
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
}

/** After an attempt whose answer was lost, tells whether the object that is there now is the one we sent. */
export async function isSameObject(requester: S3Requester, key: string, size: number, etag: string): Promise<boolean> {
  const head = await headObject(requester, key);
  return head !== undefined && head.size === size && head.etag === etag;
}
