// A cache file's bytes: the SHA-256 of the cached range, then the range. The digest is checked on every
// read, so a cache file damaged on disk (or cut short by a crash) is found and re-read from the bucket
// instead of being served; the records inside stay sealed and are verified again above, as a fresh read.
import { createHash } from 'node:crypto';

const DIGEST_SIZE = 32;

export function cacheFileBytes(range: Buffer): Buffer[] {
  return [createHash('sha256').update(range).digest(), range];
}

export function cacheFileSize(rangeLength: number): number {
  return DIGEST_SIZE + rangeLength;
}

/** The range in a cache file's bytes, or undefined when they are not what was written (wrong size or digest). */
export function openCacheFile(bytes: Buffer, rangeLength: number): Buffer | undefined {
  if (bytes.length !== DIGEST_SIZE + rangeLength) return undefined;
  const range = bytes.subarray(DIGEST_SIZE);
  const digest = createHash('sha256').update(range).digest();
  return digest.equals(bytes.subarray(0, DIGEST_SIZE)) ? range : undefined;
}
