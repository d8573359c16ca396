// The most a backup may add to its client's stored bytes (the server's hard_quota less the usage the
// backup started with): checked before each copy is stored, so no backup passes it, committed or not.

export interface StoredBytesLimit {
  /**
   * The most stored bytes (the client's own copies new to it, as its usage counts them, and its
   * entries' metadata) this backup may add.
   */
  readonly maxStoredBytes: number;
  /** The error the backup fails with; `wouldStore`: what it would have stored with the refused copy. */
  readonly exceeded: (wouldStore: number) => Error;
}

/** What a session stored so far (content-writer.ts StoredBytes), and whether it reached its limit. */
interface CountedBytes {
  readonly storedBytes: number;
  readonly metadataBytes: number;
  isLimitReached?: boolean;
}

/**
 * Throws the limit's error when storing `storedSize` more bytes would take the backup past it; then
 * nothing of that copy is stored, and the session keeps nothing for a retry when it is dropped
 * (isLimitReached). Called in the same synchronous turn as the count it guards.
 */
export function assertWithinLimit(limit: StoredBytesLimit | undefined, stored: CountedBytes, storedSize: number): void {
  const wouldStore = stored.storedBytes + stored.metadataBytes + storedSize;
  if (limit === undefined || wouldStore <= limit.maxStoredBytes) return;
  stored.isLimitReached = true;
  throw limit.exceeded(wouldStore);
}
