// What a restore did not restore as it is in the backup, one line each, as -i, a receive and the
// daemon's receive job all say it: failures, entries the overwrite policy kept, what needs root.
import type { RestoreGaps } from './restorer';

/** gaps: a restore's, or a receive's files (which fail as a whole, so list no failures); none: no lines. */
export function restoreGapLines(gaps: Partial<RestoreGaps> | undefined): string[] {
  return [
    ...(gaps?.failures ?? []).map((failure) => `error: ${failure}`),
    ...(gaps?.keptExisting ?? []).map((kept) => `not replaced: ${kept}`),
    ...(gaps?.needsRoot ?? []).map((skipped) => `skipped: ${skipped}`),
  ];
}

/** "see the line above" / "see the 3 lines above": what a summary points to (one line may stand for many entries). */
export function linesAbove(count: number): string {
  return count === 1 ? 'see the line above' : `see the ${count} lines above`;
}
