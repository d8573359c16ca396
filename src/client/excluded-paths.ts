// The paths the walk left out by exclude_regex (or as a path it never walks), so that a folder moved
// during the backup can still prove its old name read (moved-entries.ts): what it left out at its new
// path, it would have left out at the old one too when the same rules leave each of them out there.
// A project folder moved with `exclude_regex /node_modules$/` was reported "vanished" (exit 3) because
// anything left out under a folder withdrew its proof.

/** Paths kept since the current include or look began (~100 bytes each); past it, folders with exclusions below prove nothing. */
const MOST_KEPT = 10_000;

/** Where the record stood when a folder began: what was left out below it is what came after. */
export interface ExcludedMark {
  readonly count: number;
  readonly kept: number;
}

export class ExcludedPaths {
  private count = 0;
  private readonly paths: Buffer[] = [];

  note(path: Buffer): void {
    this.count++;
    if (this.paths.length < MOST_KEPT) this.paths.push(path);
  }

  mark(): ExcludedMark {
    return { count: this.count, kept: this.paths.length };
  }

  /** The paths left out since `mark`, or undefined when some of them were not kept. */
  since(mark: ExcludedMark): readonly Buffer[] | undefined {
    if (this.count - mark.count !== this.paths.length - mark.kept) return undefined;
    return this.paths.slice(mark.kept);
  }

  /** Drops the kept paths; only when no folder's mark is still open (between includes, between looks). */
  restart(): void {
    this.paths.length = 0;
  }
}
