// Which backups retention keeps, as a pure function of backup numbers, ages and kinds (burp's keep semantics).
// keep=[7,4]: the newest 7 complete backups, plus the newest 4 whose number is a multiple of 7; keep=[7,4,6] adds 6 multiples of 28.

export interface RetentionCandidate {
  readonly number: number;
  readonly finishedAt: number;
  /** A partial backup holds only changes on top of the complete backup before it. */
  readonly isPartial?: boolean;
}

export interface RetentionPolicy {
  /** Counts complete backups only: partials come every few minutes and would push them out. */
  readonly keep: readonly number[];
  /** Backups of either kind older than this many days are dropped, except the newest one. */
  readonly keepDays?: number;
  /** Partial backups older than this many days are dropped, except the newest backup. */
  readonly keepDaysPartial?: number;
}

const DAY_MILLISECONDS = 24 * 3600 * 1000;

/**
 * Returns the numbers to keep. Complete backups follow keep and keep_days, and the newest one is
 * always kept. A partial backup is kept while it is young enough and the complete backup it
 * stands on (the nearest complete one before it) is kept: without that base it cannot be loaded.
 * The newest backup is kept whatever its age, unless it is such an orphan partial.
 */
export function backupsToKeep(candidates: readonly RetentionCandidate[], policy: RetentionPolicy, now: number): Set<number> {
  const oldestFirst = [...candidates].sort((a, b) => a.number - b.number);
  const kept = completesToKeep(oldestFirst.filter((backup) => !backup.isPartial), policy, now);
  const newestNumber = oldestFirst.at(-1)?.number;
  const ageLimits = [policy.keepDays, policy.keepDaysPartial].filter((days): days is number => days !== undefined);
  const oldestPartialAllowed = ageLimits.length === 0 ? -Infinity : now - Math.min(...ageLimits) * DAY_MILLISECONDS;
  let base: RetentionCandidate | undefined;
  for (const backup of oldestFirst) {
    if (!backup.isPartial) {
      base = backup;
      continue;
    }
    const hasBase = base !== undefined && kept.has(base.number);
    const isYoungEnough = backup.number === newestNumber || backup.finishedAt >= oldestPartialAllowed;
    if (hasBase && isYoungEnough) kept.add(backup.number);
  }
  return kept;
}

function completesToKeep(oldestFirst: readonly RetentionCandidate[], policy: RetentionPolicy, now: number): Set<number> {
  const newestFirst = [...oldestFirst].reverse();
  const kept = new Set<number>();
  if (newestFirst.length === 0) return kept;
  kept.add(newestFirst[0].number);
  let interval = 1;
  policy.keep.forEach((count, level) => {
    // Numbers, not positions, decide the upper levels: a backup kept as "every 7th" stays kept as new ones arrive.
    const eligible = level === 0 ? newestFirst : newestFirst.filter((backup) => backup.number % interval === 0);
    for (const backup of eligible.slice(0, count)) kept.add(backup.number);
    interval *= count;
  });
  if (policy.keepDays !== undefined) {
    const oldestAllowed = now - policy.keepDays * DAY_MILLISECONDS;
    for (const backup of newestFirst.slice(1)) {
      if (backup.finishedAt < oldestAllowed) kept.delete(backup.number);
    }
  }
  return kept;
}
