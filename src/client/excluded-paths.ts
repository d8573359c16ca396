// The paths the walk left out by exclude_regex (or as a path it never walks), so that a folder moved
// during the backup can still prove its old name read (moved-entries.ts): what it left out at its new
// path, it would have left out at the old one too when the same rules leave each of them out there.
// A project folder moved with `exclude_regex /node_modules$/` was reported "vanished" (exit 3) because
// anything left out under a folder withdrew its proof.
//
// One record for the whole backup, in the order left out: a folder's exclusions are the range noted
// while it was walked (its descendants' included), so a folder and all its ancestors share the paths.
// Kept as latin1 strings: a Buffer made by Buffer.concat is a view of a shared 8 KiB block, and keeping
// one kept its block (a review measured ~7.5 KB a path).

/**
 * Paths kept for the whole backup, and their bytes (a tree 120 folders deep of 250-byte names made
 * 10,000 paths hold 300 MB): past either, a folder with exclusions below it proves nothing.
 */
const MOST_KEPT = 10_000;
const MOST_KEPT_BYTES = 4 * 1024 * 1024;

/** Where the record stood when a folder began: what was left out below it is what came after. */
export interface ExcludedMark {
  readonly count: number;
  readonly kept: number;
}

/** The paths left out below one folder: positions [start, end) of the record. */
export interface ExcludedRange {
  readonly start: number;
  readonly end: number;
}

export class ExcludedPaths {
  private count = 0;
  private keptBytes = 0;
  private isFull = false;
  private readonly paths: string[] = [];

  note(path: Buffer): void {
    this.count++;
    // Once one is not kept, none is: a range is whole or withdrawn.
    if (!this.isFull && (this.paths.length >= MOST_KEPT || this.keptBytes + path.length > MOST_KEPT_BYTES)) this.isFull = true;
    if (this.isFull) return;
    this.keptBytes += path.length;
    this.paths.push(path.toString('latin1'));
  }

  mark(): ExcludedMark {
    return { count: this.count, kept: this.paths.length };
  }

  /** What was left out since `mark`, or undefined when some of it was not kept. */
  since(mark: ExcludedMark): ExcludedRange | undefined {
    if (this.count - mark.count !== this.paths.length - mark.kept) return undefined;
    return { start: mark.kept, end: this.paths.length };
  }

  /** The path at a position of a range. */
  at(position: number): Buffer {
    return Buffer.from(this.paths[position], 'latin1');
  }
}
