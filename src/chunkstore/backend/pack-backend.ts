// Where sealed packs (and catalog snapshots) live: a local folder or an object store bucket.
// The store stages and seals packs itself; a backend only keeps immutable named objects and reads ranges of them.
import { BackupError } from '../../common/errors';

export interface StoredObject {
  readonly name: string;
  readonly size: number;
  /** By the store's own clock (file system or object service), so two servers compare times without trusting each other's clocks. */
  readonly modifiedAt: Date;
}

/**
 * A pack store. Callers may rely on:
 * - putPack/putBlob resolve only once the object would survive a crash of this server (local: file
 *   and folder fsynced; S3: the PUT or multipart upload acknowledged). A rejected put leaves no object,
 *   with one exception no remote store can avoid: when the connection died before the service's answer
 *   and every retry failed, the object may have landed. So never reuse a rejected name; check and GC
 *   find such an object as an orphan.
 * - Objects are immutable: putting an existing name rejects with ObjectExistsError (S3: `If-None-Match: *`)
 *   and leaves the existing object as it was; nothing is ever overwritten.
 * - readRange returns exactly `length` bytes or rejects: NotFoundError for a missing object,
 *   CorruptError for one shorter than asked; transient failures stay I/O errors (never corruption).
 * - getBlob rejects with NotFoundError for a missing blob and then leaves toFile untouched.
 * - deletePack/deleteBlob are idempotent: a missing object is not an error.
 * - Every method may be called concurrently.
 */
export interface PackBackend {
  /** For logs and metrics: "local" or "s3". */
  readonly kind: string;
  /** Where the objects are, for messages: a folder, or s3://bucket/prefix. */
  readonly location: string;
  /**
   * Moves or uploads the sealed pack in stagedFile under name; the staged file is consumed (gone afterwards).
   * On rejection the staged file is left where it was, so the caller may retry or discard it.
   */
  putPack(name: string, stagedFile: string): Promise<void>;
  readRange(name: string, offset: number, length: number): Promise<Buffer>;
  /**
   * A backend that keeps what it reads (the read cache) only; callers use readOpenedRange. Reads the range and
   * returns what `open` makes of it; `open` throws when the bytes are not what was stored (a record's seal does
   * not open). Only bytes `open` accepted are kept, and kept bytes `open` refuses are dropped and read once more
   * from the store below before its error stands.
   */
  readOpened?<T>(name: string, offset: number, length: number, open: (range: Buffer) => T): Promise<T>;
  listPacks(): AsyncIterable<StoredObject>;
  deletePack(name: string): Promise<void>;
  /** Named blobs beside the packs (catalog snapshots); the staged file is left in place. */
  putBlob(name: string, stagedFile: string): Promise<void>;
  /** Writes the blob to toFile (created or replaced). */
  getBlob(name: string, toFile: string): Promise<void>;
  listBlobs(): AsyncIterable<StoredObject>;
  deleteBlob(name: string): Promise<void>;
  /**
   * Object stores only: aborts the multipart uploads of this store's own packs and blobs started more than
   * olderThanMs ago (a crash's leftovers: no objects, but they hold space). Returns how many. Only the
   * holder of the bucket's lease may call it.
   */
  abortIncompleteUploads?(olderThanMs: number): Promise<number>;
  close(): Promise<void>;
}

/** A put named an object that already exists; the existing object is untouched. */
export class ObjectExistsError extends BackupError {
  readonly objectName: string;
  constructor(objectName: string, where: string) {
    super('IO', `${where}: ${objectName} already exists; objects are immutable and never overwritten`);
    this.objectName = objectName;
  }
}
