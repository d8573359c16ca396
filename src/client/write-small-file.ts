// Writes one small restored file in a handful of synchronous calls on one descriptor, after
// checking its bytes against the backup's hash: for trees of many small files a thread-pool round
// trip per call cost more than the calls. Metadata is set before the rename (rename keeps it), so
// the final name never holds a half-written or half-stamped file.
import { createHash } from 'node:crypto';
import { closeSync, fchmodSync, fchownSync, futimesSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { CorruptError } from '../common/errors';

export interface SmallFileJob {
  readonly temporaryPath: string;
  readonly localPath: string;
  readonly pieces: readonly Uint8Array[];
  readonly expectedHash: Uint8Array;
  readonly expectedSize: number;
  readonly mode: number;
  /** undefined: ownership is left as it is (not root, or owned by root anyway). */
  readonly owner: { readonly uid: number; readonly gid: number } | undefined;
  readonly mtime: number;
}

export function writeSmallFile(job: SmallFileJob): void {
  const hash = createHash('sha256');
  let size = 0;
  for (const piece of job.pieces) {
    hash.update(piece);
    size += piece.length;
  }
  if (size !== job.expectedSize || !hash.digest().equals(job.expectedHash)) {
    throw new CorruptError(`received content does not match its hash (${size} of ${job.expectedSize} bytes)`);
  }
  const descriptor = openSync(job.temporaryPath, 'wx', 0o600);
  try {
    try {
      for (const piece of job.pieces) writeSync(descriptor, piece);
      if (job.owner) fchownSync(descriptor, job.owner.uid, job.owner.gid);
      fchmodSync(descriptor, job.mode);
      futimesSync(descriptor, job.mtime, job.mtime);
    } finally {
      closeSync(descriptor);
    }
    renameSync(job.temporaryPath, job.localPath);
  } catch (error) {
    try {
      unlinkSync(job.temporaryPath);
    } catch {
      // already gone or never made: nothing to clean
    }
    throw describeRenameError(error);
  }
}

export function describeRenameError(error: unknown): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'EISDIR' || code === 'ENOTEMPTY' || code === 'EEXIST' ? new CorruptError('a folder is in the way') : error;
}
