// burp's keep levels as a pure function over committed complete backups: keep = 7 / keep = 4 keeps
// the newest 7, then one in each of positions 8–14, 15–21 and 22–28 (four weeks of daily backups).

export interface CountedBackup {
  readonly number: number;
  /**
   * The backup's place among its client's committed complete backups, 1 for the first, with no gaps
   * for failed or partial backups: a failed attempt uses up a backup number but never an ordinal, so
   * it cannot shift the levels and leave a week with no kept backup.
   */
  readonly ordinal: number;
}

/**
 * Why each backup is kept, by number. Level 1 keeps the newest keep[0] backups. Level i keeps the
 * newest keep[i] whose ordinal is a multiple of keep[0]×…×keep[i-1]: any run of that many ordinals
 * holds exactly one such backup, so each block of positions keeps one, and it stays the same backup
 * as new ones arrive (a position-based pick would move every day and delete what it kept yesterday).
 */
export function burpLevelReasons(backups: readonly CountedBackup[], keep: readonly number[]): Map<number, string[]> {
  const newestFirst = [...backups].sort((a, b) => b.ordinal - a.ordinal);
  const reasons = new Map<number, string[]>();
  let interval = 1;
  keep.forEach((count, level) => {
    const eligible = level === 0 ? newestFirst : newestFirst.filter((backup) => backup.ordinal % interval === 0);
    const reason = level === 0 ? `keep = ${count} (newest ${count})` : `keep = ${count} (level ${level + 1}: one in every ${interval})`;
    for (const backup of eligible.slice(0, count)) reasons.set(backup.number, [...(reasons.get(backup.number) ?? []), reason]);
    interval *= count;
  });
  return reasons;
}
