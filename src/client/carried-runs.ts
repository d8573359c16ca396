// Gathers files the parent holds exactly as they are now into carried runs: a run names the first
// and last of a stretch of the parent's path order, and the server copies the parent's rows for it.
// The walk visits paths in nearly that order (a folder's files before a sibling "name.ext" of the
// folder, which sorts before "name/..."), so a run is kept while its files fill a stretch of ranks
// without a gap: a changed, deleted-since or hard-linked parent file in between closes it.
import type { CarriedRun } from '../proto/cpsbackup';
import { MAX_CARRIED_RUN } from '../common/wire/carried-run';

export class CarriedRuns {
  private first: Buffer = Buffer.alloc(0);
  private last: Buffer = Buffer.alloc(0);
  private firstRank = 0;
  private lastRank = 0;
  private count = 0;

  constructor(private readonly maxRun = MAX_CARRIED_RUN) {}

  /** Adds an unchanged file at its parent rank; returns the run it closed, if the file could not join it. */
  add(path: Buffer, rank: number): CarriedRun | undefined {
    // The run's ranks fill its stretch; one more joins only next to it (a path walked twice repeats a
    // rank inside the stretch, which never joins: the server then refuses the path sent twice).
    const joins = this.count > 0 && this.count < this.maxRun
      && Math.max(this.lastRank, rank) - Math.min(this.firstRank, rank) === this.count;
    if (joins) {
      if (rank < this.firstRank) {
        this.firstRank = rank;
        this.first = path;
      } else {
        this.lastRank = rank;
        this.last = path;
      }
      this.count++;
      return undefined;
    }
    const closed = this.close();
    this.first = this.last = path;
    this.firstRank = this.lastRank = rank;
    this.count = 1;
    return closed;
  }

  /** The run gathered so far, if any; the next file starts a new one. */
  close(): CarriedRun | undefined {
    if (this.count === 0) return undefined;
    const run = { firstPath: this.first, lastPath: this.last, count: this.count };
    this.count = 0;
    return run;
  }
}
