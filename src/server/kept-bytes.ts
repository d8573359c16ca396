// What one upload session keeps until its backup ends, counted against a fixed budget: whatever a
// client sends, one backup must not make the server's memory grow with it.
import { LimitError } from '../common/errors';

/**
 * The most one upload session keeps until its backup ends (what it needs to refuse a path sent twice,
 * upload-session.ts). An honest backup of 1 M files, 10% of them hard-linked, keeps 8 MiB: a 4-byte
 * fingerprint per path in a table of 2 Mi slots (seen-paths.ts); its 100,000 links keep nothing more,
 * a later link reads its first path's entry back from the store's write session. This much holds
 * about 25 M paths (the table doubles when 3/4 full, and both tables live while it does: 128 + 256 MiB
 * would pass it), far beyond the file trees this product is for; a backup of more is refused, naming
 * the client, rather than the server running out of memory for every client. What a session holds only until
 * its next flush (at most 64 MiB of entries, backup-session.ts) or for one file (a chunk list) has
 * bounds of its own.
 */
export const MAX_UPLOAD_KEPT_BYTES = 256 * 1024 * 1024;

export class KeptBytes {
  private kept = 0;

  /** `owner`: names the client and the backup in a refusal. */
  constructor(private readonly owner: () => string, private readonly limit = MAX_UPLOAD_KEPT_BYTES) {}

  get bytes(): number {
    return this.kept;
  }

  /** Counts `bytes` more kept for `what`, or refuses the backup if that passes the budget. */
  charge(bytes: number, what: () => string): void {
    if (this.kept + bytes > this.limit) {
      throw new LimitError(`${this.owner()}: ${what()} would keep ${mebibytes(this.kept + bytes)} MiB on the server until the backup ends, `
        + `more than the ${mebibytes(this.limit)} MiB one backup may keep; refused`);
    }
    this.kept += bytes;
  }

  release(bytes: number): void {
    this.kept -= bytes;
  }
}

function mebibytes(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(bytes % (1024 * 1024) === 0 ? 0 : 1);
}
