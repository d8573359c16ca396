// PackBackend on an S3 bucket (Ceph RGW, AWS, MinIO ...): immutable pack and blob objects under a
// prefix, written by conditional PUT or multipart upload, read by Range GET, every call retried on
// transient failures and counted per operation.
import { stat, unlink } from 'node:fs/promises';
import { CreateBucketCommand, DeleteObjectCommand, HeadBucketCommand } from '@aws-sdk/client-s3';
import { NotFoundError } from '../../../common/errors';
import { ObjectExistsError, type PackBackend, type StoredObject } from '../pack-backend';
import { abortAbandonedUploads } from './abandoned-uploads';
import { downloadObject } from './download';
import { listKeys } from './listing';
import { putMultipart } from './multipart-put';
import { normalizeS3Prefix, ObjectKeys } from './object-keys';
import { readObjectRange } from './range-read';
import { S3RequestError } from './s3-errors';
import { S3Metrics, type S3Stats } from './s3-metrics';
import { createS3Client, resolveS3Options, type ClientParts, type ResolvedS3Options, type S3BackendOptions } from './s3-options';
import { S3Requester } from './s3-requester';
import { putSingle } from './single-put';

/**
 * Beyond PackBackend's promises, callers may rely on:
 * - Every error names the operation and s3://bucket/key; 403 is an S3AuthError (an AuthError), a
 *   missing object a NotFoundError, anything else an S3RequestError (code IO) after the retries.
 * - A put that failed without an answer may still have landed: the name must not be reused (the
 *   store's names are random, and check/GC find such an orphan).
 * - Memory stays bounded: uploads and downloads stream from and to files; a read holds its range only.
 */
export class S3Backend implements PackBackend {
  readonly kind = 's3';
  readonly location: string;
  private readonly options: ResolvedS3Options;
  private readonly keys: ObjectKeys;
  private readonly metrics = new S3Metrics();
  private readonly clientParts: ClientParts;
  private readonly requester: S3Requester;
  private readonly settings: S3BackendOptions;

  constructor(settings: S3BackendOptions) {
    this.settings = settings;
    this.options = resolveS3Options(settings, normalizeS3Prefix(settings.prefix ?? ''));
    this.keys = new ObjectKeys(this.options.prefix);
    this.location = `s3://${this.options.bucket}/${this.options.prefix}`;
    this.clientParts = createS3Client(this.options, settings.credentials, settings.logger);
    this.requester = new S3Requester({
      client: this.clientParts.client,
      bucket: this.options.bucket,
      endpoint: this.options.endpoint ?? 'AWS S3',
      metrics: this.metrics,
      retryPolicy: this.options.retryPolicy,
      credentialsSource: settings.credentials.source,
      onEvent: settings.onEvent,
    });
  }

  /**
   * Opens the bucket and proves the endpoint, the keys and the bucket before any backup relies on
   * them; with createBucket a missing bucket is made (init and tests), otherwise it is an error.
   */
  static async open(settings: S3BackendOptions & { readonly createBucket?: boolean }): Promise<S3Backend> {
    const backend = new S3Backend(settings);
    try {
      await backend.checkBucket(settings.createBucket === true);
    } catch (error) {
      await backend.close();
      throw error;
    }
    return backend;
  }

  async putPack(name: string, stagedFile: string): Promise<void> {
    await this.put(this.keys.packKey(name), name, stagedFile);
    await unlink(stagedFile);
  }

  async readRange(name: string, offset: number, length: number): Promise<Buffer> {
    return readObjectRange(this.requester, this.keys.packKey(name), offset, length);
  }

  async *listPacks(): AsyncIterable<StoredObject> {
    for await (const listed of listKeys(this.requester, this.keys.packsPrefix)) {
      const name = this.keys.packNameOf(listed.key);
      if (name !== undefined) yield { name, size: listed.size, modifiedAt: listed.modifiedAt };
    }
  }

  async deletePack(name: string): Promise<void> {
    return this.deleteKey(this.keys.packKey(name));
  }

  async putBlob(name: string, stagedFile: string): Promise<void> {
    return this.put(this.keys.blobKey(name), name, stagedFile);
  }

  async getBlob(name: string, toFile: string): Promise<void> {
    return downloadObject(this.requester, this.keys.blobKey(name), toFile);
  }

  async *listBlobs(): AsyncIterable<StoredObject> {
    for await (const listed of listKeys(this.requester, this.keys.blobsPrefix)) {
      const name = this.keys.blobNameOf(listed.key);
      if (name !== undefined) yield { name, size: listed.size, modifiedAt: listed.modifiedAt };
    }
  }

  async deleteBlob(name: string): Promise<void> {
    return this.deleteKey(this.keys.blobKey(name));
  }

  /** Per-operation requests, errors, retries, bytes and latencies since this backend was made. */
  stats(): S3Stats {
    return this.metrics.snapshot();
  }

  /**
   * Aborts this store's multipart uploads (of its packs and blobs, nothing else in the bucket) started
   * before olderThanMs ago: what an upload cut off by a crash leaves behind. Not objects, but they hold space.
   */
  abortIncompleteUploads(olderThanMs: number): Promise<number> {
    return abortAbandonedUploads(this.requester, this.keys, olderThanMs);
  }

  close(): Promise<void> {
    this.clientParts.destroy();
    return Promise.resolve();
  }

  private async put(key: string, name: string, stagedFile: string): Promise<void> {
    const { size } = await stat(stagedFile);
    const outcome = size > this.options.multipartThreshold
      ? await putMultipart(this.requester, key, stagedFile, size, {
        partSize: this.options.partSize, partConcurrency: this.options.partConcurrency, onEvent: this.settings.onEvent,
      })
      : await putSingle(this.requester, key, stagedFile, size);
    if (outcome === 'exists') throw new ObjectExistsError(name, `s3 put s3://${this.options.bucket}/${key}`);
  }

  /** S3 deletes are idempotent (204 for a missing key); a 404 from a stricter service is success too. */
  private async deleteKey(key: string): Promise<void> {
    try {
      await this.requester.run('delete', key, () => this.requester.client.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: key })));
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
    }
  }

  private async checkBucket(isCreateAllowed: boolean): Promise<void> {
    try {
      await this.requester.run('head-bucket', undefined, () => this.requester.client.send(new HeadBucketCommand({ Bucket: this.options.bucket })));
    } catch (error) {
      // HEAD has no body, so a missing bucket is a bare 404 here, not NoSuchBucket.
      const isMissing = error instanceof S3RequestError && error.status === 404;
      if (!isMissing) throw error;
      if (!isCreateAllowed) {
        throw new S3RequestError({ operation: 'head-bucket', bucket: this.options.bucket, key: undefined, endpoint: this.options.endpoint ?? 'AWS S3' },
          { status: 404, code: 'NoSuchBucket', isTransient: false }, 1, `bucket ${this.options.bucket} does not exist at ${this.options.endpoint ?? 'AWS S3'}`);
      }
      await this.requester.run('create-bucket', undefined, () => this.requester.client.send(new CreateBucketCommand({ Bucket: this.options.bucket })));
    }
  }
}
