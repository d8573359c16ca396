// Which backups retention keeps and why, as a pure function of the client's backups and rules:
// the one function behind the server's retention after each commit and `retention [--dry-run]`.
import type { CalendarRules } from '../../common/config/retention-keys';
import { burpLevelReasons } from './burp-levels';
import { calendarReasons } from './calendar-rules';

export interface RetentionCandidate {
  readonly number: number;
  readonly finishedAt: number;
  /** A partial backup holds only changes on top of the complete backup before it. */
  readonly isPartial?: boolean;
  /** Place among the client's committed complete backups (burp-levels.ts); the number when absent. */
  readonly completeOrdinal?: number;
  /** Kept whatever the rules say, with the complete backup it stands on when it is partial. */
  readonly isProtected?: boolean;
  /** Files of it could not be read when it was made (or check --repair took them out). */
  readonly isIncomplete?: boolean;
  /** It holds no file at all (an include that was empty: a disk that did not mount, say). */
  readonly isEmpty?: boolean;
}

export interface RetentionPolicy {
  /** burp's levels. They count complete backups only: partials come every few minutes and would push them out. */
  readonly keep: readonly number[];
  /** restic's keep_last … keep_within, over complete backups too. */
  readonly calendar?: CalendarRules;
  /** Backups of either kind older than this many days are dropped, except the newest one: a cap over every rule. */
  readonly keepDays?: number;
  /** Partial backups older than this many days are dropped, except the newest backup. */
  readonly keepDaysPartial?: number;
  /**
   * Set for an append-only client (client_can_delete = 0): every complete backup younger than this many
   * days is kept (0: none), within keep_days. The count rules (keep, keep_last) count what the client
   * sends: a stolen node committing N backups would push out its whole history.
   */
  readonly appendOnlyKeepDays?: number;
}

export interface RetentionDecision {
  readonly number: number;
  readonly isKept: boolean;
  /** What keeps it (every rule that does), or why it goes. */
  readonly reasons: readonly string[];
}

const DAY_MILLISECONDS = 24 * 3600 * 1000;

/**
 * One decision per backup, oldest first. A complete backup is kept when any rule keeps it (the newest
 * complete one, a keep level, a calendar rule: their union), unless keep_days caps it; a protected
 * backup is always kept. A partial backup is kept while it is young enough and the complete backup it
 * stands on (the nearest complete one before it) is kept: without that base it cannot be loaded. The
 * newest backup is kept whatever its age, unless it is such an orphan partial. While the newest
 * complete backups are incomplete (a file unreadable night after night), the newest one that holds
 * every file is kept too: counting the incomplete ones alone would push out the last whole copy.
 * keep_days caps that rule as every other: it is often a legal limit, and on a host where some
 * file vanishes during every backup the last whole copy may be months old. Likewise, while the newest
 * complete backups hold no file at all (an include whose disk did not mount backs up as an empty
 * folder, exit 0), the newest one that holds files is kept: seven such nights with keep = 7 deleted
 * every real backup.
 */
export function retentionDecisions(candidates: readonly RetentionCandidate[], policy: RetentionPolicy, now: number): RetentionDecision[] {
  const oldestFirst = [...candidates].sort((a, b) => a.number - b.number);
  const completes = oldestFirst.filter((backup) => !backup.isPartial);
  const reasons = new Map<number, string[]>(oldestFirst.map((backup) => [backup.number, []]));
  const why = (number: number, reason: string): void => { reasons.get(number)!.push(reason); };
  const newestComplete = completes.at(-1);
  if (newestComplete !== undefined) why(newestComplete.number, 'newest complete backup');
  const window = appendOnlyWindow(policy, now);
  // An append-only client's rules count only what is older than its window (every backup in it is
  // kept): counted with them, backups a stolen node commits in a burst pushed out every older one the
  // rules kept, weeklies and monthlies too (found by review). They can push nothing out before they age.
  const ruled = window === undefined ? completes : completes.filter((backup) => backup.finishedAt < window.oldestHeld);
  const newestRuled = ruled.at(-1);
  // Whole: neither incomplete nor empty. Each kind of flaw counted the other kind as whole: a whole backup,
  // an empty one (the disk did not mount), then an incomplete one kept the empty one as "with every file",
  // and the only copy of the unreadable file went (found by review).
  const newestWhole = newestRuled !== undefined && !isWhole(newestRuled) ? newestWhere(ruled, isWhole) : undefined;
  const newestWithFiles = newestRuled?.isEmpty === true ? newestWhere(ruled, (backup) => backup.isEmpty !== true) : undefined;
  if (newestWhole !== undefined && newestWhole !== newestWithFiles) why(newestWhole.number, wholeReason(ruled, newestWhole));
  if (newestWithFiles !== undefined) why(newestWithFiles.number, 'newest backup that holds files (the complete backups after it hold none)');
  for (const [number, levelReasons] of burpLevelReasons(ruled.map((backup) => ({
    number: backup.number, ordinal: backup.completeOrdinal ?? backup.number,
  })), policy.keep)) levelReasons.forEach((reason) => why(number, reason));
  for (const [number, calendar] of calendarReasons(ruled.map((backup) => ({ number: backup.number, time: backup.finishedAt })),
    policy.calendar ?? {})) calendar.forEach((reason) => why(number, reason));
  if (window !== undefined) {
    for (const backup of completes) {
      if (backup.finishedAt >= window.oldestHeld) why(backup.number, `append-only client, younger than ${window.days} days (append_only_keep_days)`);
    }
  }
  const removals = new Map<number, string>();
  if (policy.keepDays !== undefined) {
    const oldestAllowed = now - policy.keepDays * DAY_MILLISECONDS;
    for (const backup of completes) {
      if (backup === newestComplete || backup.finishedAt >= oldestAllowed || reasons.get(backup.number)!.length === 0) continue;
      reasons.set(backup.number, []);
      removals.set(backup.number, `older than keep_days = ${policy.keepDays}`);
    }
  }
  markProtected(oldestFirst, why);
  decidePartials(oldestFirst, policy, now, reasons, removals);
  return oldestFirst.map((backup) => {
    const kept = reasons.get(backup.number)!;
    if (kept.length > 0) return { number: backup.number, isKept: true, reasons: kept };
    return { number: backup.number, isKept: false, reasons: [removals.get(backup.number) ?? 'no rule keeps it'] };
  });
}

/** An append-only client's window: its days (within keep_days, which the same clock applies) and where it starts; none when off. */
function appendOnlyWindow(policy: RetentionPolicy, now: number): { days: number; oldestHeld: number } | undefined {
  if (policy.appendOnlyKeepDays === undefined || policy.appendOnlyKeepDays === 0) return undefined;
  const days = Math.min(policy.appendOnlyKeepDays, policy.keepDays ?? Infinity);
  return { days, oldestHeld: now - days * DAY_MILLISECONDS };
}

/** Holds files, and every file it was asked for. */
function isWhole(backup: RetentionCandidate): boolean {
  return backup.isIncomplete !== true && backup.isEmpty !== true;
}

/** Why the newest whole backup is kept: what the complete backups after it lack. */
function wholeReason(ruled: readonly RetentionCandidate[], whole: RetentionCandidate): string {
  const later = ruled.filter((backup) => backup.number > whole.number);
  const flaw = later.some((backup) => backup.isEmpty === true) ? 'are incomplete or hold no file' : 'are incomplete';
  return `newest backup with every file (the complete backups after it ${flaw})`;
}

/** The newest of the complete backups (oldest first) that `isWhole` accepts. */
function newestWhere(completes: readonly RetentionCandidate[], isWhole: (backup: RetentionCandidate) => boolean): RetentionCandidate | undefined {
  for (let index = completes.length - 1; index >= 0; index--) if (isWhole(completes[index])) return completes[index];
  return undefined;
}

/** The numbers retentionDecisions keeps. */
export function backupsToKeep(candidates: readonly RetentionCandidate[], policy: RetentionPolicy, now: number): Set<number> {
  return new Set(retentionDecisions(candidates, policy, now).filter((decision) => decision.isKept).map((decision) => decision.number));
}

/** A protected partial needs its base: protecting it protects the complete backup it stands on. */
function markProtected(oldestFirst: readonly RetentionCandidate[], why: (number: number, reason: string) => void): void {
  let base: RetentionCandidate | undefined;
  for (const backup of oldestFirst) {
    if (backup.isProtected) why(backup.number, 'protected');
    if (!backup.isPartial) base = backup;
    else if (backup.isProtected && base !== undefined) why(base.number, `base of protected partial backup ${backup.number}`);
  }
}

function decidePartials(oldestFirst: readonly RetentionCandidate[], policy: RetentionPolicy, now: number,
  reasons: Map<number, string[]>, removals: Map<number, string>): void {
  const newestNumber = oldestFirst.at(-1)?.number;
  const ageLimits = [policy.keepDays, policy.keepDaysPartial].filter((days): days is number => days !== undefined);
  const oldestPartialAllowed = ageLimits.length === 0 ? -Infinity : now - Math.min(...ageLimits) * DAY_MILLISECONDS;
  let base: RetentionCandidate | undefined;
  for (const backup of oldestFirst) {
    if (!backup.isPartial) {
      base = backup;
      continue;
    }
    if (backup.isProtected) continue;
    if (base === undefined || reasons.get(base.number)!.length === 0) {
      removals.set(backup.number, base === undefined ? 'partial with no complete backup before it' : `partial on complete backup ${base.number}, which goes`);
      continue;
    }
    if (backup.number === newestNumber) addReason(reasons, backup.number, 'newest backup');
    else if (backup.finishedAt >= oldestPartialAllowed) addReason(reasons, backup.number, `partial on kept complete backup ${base.number}`);
    else removals.set(backup.number, `partial older than keep_days${policy.keepDaysPartial !== undefined ? '_partial' : ''}`);
  }
  keepEarlierLinks(oldestFirst, reasons, removals);
}

/**
 * A kept partial holds only the changes since the backup before it: every earlier partial of its
 * chain is kept with it, whatever its age. Dropping an old link and keeping a newer one made a chain
 * that loads without the dropped link's changes, and says nothing.
 */
function keepEarlierLinks(oldestFirst: readonly RetentionCandidate[], reasons: Map<number, string[]>, removals: Map<number, string>): void {
  let keptLater: number | undefined;
  for (const backup of [...oldestFirst].reverse()) {
    if (!backup.isPartial) {
      keptLater = undefined;
      continue;
    }
    const isKept = reasons.get(backup.number)!.length > 0;
    if (isKept) keptLater ??= backup.number;
    else if (keptLater !== undefined) {
      removals.delete(backup.number);
      addReason(reasons, backup.number, `earlier link of kept partial backup ${keptLater}`);
    }
  }
}

function addReason(reasons: Map<number, string[]>, number: number, reason: string): void {
  reasons.get(number)!.push(reason);
}
