// The most a backup may add to its client's stored bytes (the server's hard_quota less the usage the
// backup started with): checked before each copy is stored, so no backup passes it, committed or not.

export interface StoredBytesLimit {
  /** The most stored bytes (the client's own copies new to it, as its usage counts them) this backup may add. */
  readonly maxStoredBytes: number;
  /** The error the backup fails with; `wouldStore`: what it would have stored with the refused copy. */
  readonly exceeded: (wouldStore: number) => Error;
}

/**
 * Throws the limit's error when storing `storedSize` more bytes would take the backup past it; then
 * nothing of that copy is stored. Called in the same synchronous turn as the count it guards.
 */
export function assertWithinLimit(limit: StoredBytesLimit | undefined, storedBytes: number, storedSize: number): void {
  if (limit !== undefined && storedBytes + storedSize > limit.maxStoredBytes) throw limit.exceeded(storedBytes + storedSize);
}
