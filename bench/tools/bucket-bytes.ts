// The size of a repository kept in a bucket: the bytes of its objects, listed from outside as an
// operator's `s3 ls --summarize` would (the -s3 runners' "repo" rows; a local repository is du'd instead).
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';

export interface BucketTarget {
  /** http://127.0.0.1:PORT of the gateway. */
  readonly endpoint: string;
  readonly bucket: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** An s3_credentials_file holding the same keys (mode 0600), for cpsbackup's server.conf. */
  readonly credentialsFile: string;
}

export async function bucketBytes(target: BucketTarget): Promise<number> {
  const client = new S3Client({
    endpoint: target.endpoint, forcePathStyle: true, region: 'us-east-1', credentials: target.credentials,
    requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
  });
  let total = 0;
  try {
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: target.bucket, ContinuationToken: token }));
      for (const object of page.Contents ?? []) total += object.Size ?? 0;
      token = page.NextContinuationToken;
    } while (token !== undefined);
  } finally {
    client.destroy();
  }
  return total;
}
