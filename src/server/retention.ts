// Which backups retention keeps, as a pure function of backup numbers (burp's keep semantics).
// keep=[7,4]: the newest 7, plus the newest 4 whose number is a multiple of 7; keep=[7,4,6] adds 6 multiples of 28.

export interface RetentionCandidate {
  readonly number: number;
  readonly finishedAt: number;
}

export interface RetentionPolicy {
  readonly keep: readonly number[];
  /** Backups older than this many days are dropped, except the newest one. */
  readonly keepDays?: number;
}

/** Returns the numbers to keep. The newest backup is always kept. */
export function backupsToKeep(candidates: readonly RetentionCandidate[], policy: RetentionPolicy, now: number): Set<number> {
  const newestFirst = [...candidates].sort((a, b) => b.number - a.number);
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
    const oldestAllowed = now - policy.keepDays * 24 * 3600 * 1000;
    for (const backup of newestFirst.slice(1)) {
      if (backup.finishedAt < oldestAllowed) kept.delete(backup.number);
    }
  }
  return kept;
}
