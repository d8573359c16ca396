// A bucket seen from outside the server, as someone holding only the bucket would: its keys, every
// object fetched to a folder (for grep), and an object deleted behind the server's back.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { CephCluster } from './ceph';

function clientOf(cluster: CephCluster): S3Client {
  return new S3Client({
    endpoint: cluster.endpoint, forcePathStyle: true, region: 'us-east-1', credentials: cluster.credentials,
    requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

export async function bucketKeys(cluster: CephCluster, bucket: string, prefix = ''): Promise<string[]> {
  const client = clientOf(cluster);
  const keys: string[] = [];
  try {
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
      for (const object of page.Contents ?? []) if (object.Key !== undefined) keys.push(object.Key);
      token = page.NextContinuationToken;
    } while (token !== undefined);
  } finally {
    client.destroy();
  }
  return keys.sort();
}

/** Every object under prefix written to folder/<key>; returns how many. */
export async function downloadBucket(cluster: CephCluster, bucket: string, prefix: string, folder: string): Promise<number> {
  const keys = await bucketKeys(cluster, bucket, prefix);
  const client = clientOf(cluster);
  try {
    for (const key of keys) {
      const answer = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const file = join(folder, key);
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, Buffer.from(await answer.Body?.transformToByteArray() ?? []));
    }
  } finally {
    client.destroy();
  }
  return keys.length;
}

export async function deleteObject(cluster: CephCluster, bucket: string, key: string): Promise<void> {
  const client = clientOf(cluster);
  try {
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  } finally {
    client.destroy();
  }
}

/** One byte of an object inverted in place, behind the server's back (bit rot, a faulty gateway). */
export async function flipObjectByte(cluster: CephCluster, bucket: string, key: string, offset: number): Promise<void> {
  const client = clientOf(cluster);
  try {
    const answer = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const bytes = Buffer.from(await answer.Body?.transformToByteArray() ?? []);
    bytes[offset] ^= 0xff;
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes }));
  } finally {
    client.destroy();
  }
}

/** The bucket key of a pack, as the S3 backend lays them out. */
export function packKey(prefix: string, packName: string): string {
  return `${prefix}packs/${packName.slice(0, 2)}/${packName}`;
}
