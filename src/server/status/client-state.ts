// Decides a client's state on the status port: running, failed, overdue, incomplete, ok, or never backed up.
// Pure, so the status report and the overdue notifier agree by construction.

export type ClientState = 'ok' | 'running' | 'failed' | 'overdue' | 'incomplete' | 'never';

export interface ClientFacts {
  readonly isRunning: boolean;
  /** finished_at of the last committed backup (ms), if any. */
  readonly lastSuccessAt: number | undefined;
  /**
   * finished_at of the last committed complete backup (ms). Overdue and a failed complete are measured
   * against it: a partial every 15 minutes must not hide a nightly complete that fails or stopped.
   */
  readonly lastCompleteSuccessAt?: number;
  /** Time of the last failed backup (ms), if any since the server started. */
  readonly lastFailureAt: number | undefined;
  /** Its kind, when known: a failed complete is cleared by a complete only, a failed partial by any backup. */
  readonly lastFailureKind?: 'complete' | 'partial';
  /** The newest committed backup left files out (unreadable, vanished): kept, but not a success. */
  readonly isLastIncomplete?: boolean;
  readonly warnAfterSeconds: number | undefined;
  /** Start of the server process: a client never backed up is measured from there. */
  readonly serverStartedAt: number;
}

/** The moment the client became overdue, or undefined if it is not overdue at `now`. */
export function overdueSince(facts: ClientFacts, now: number): number | undefined {
  if (facts.warnAfterSeconds === undefined) return undefined;
  const reference = facts.lastCompleteSuccessAt ?? facts.lastSuccessAt ?? facts.serverStartedAt;
  const deadline = reference + facts.warnAfterSeconds * 1000;
  return now > deadline ? deadline : undefined;
}

/** A running backup wins (it is what the operator waits for), then a failure newer than the last success. */
export function clientStateOf(facts: ClientFacts, now: number): ClientState {
  if (facts.isRunning) return 'running';
  const clearedBy = facts.lastFailureKind === 'complete' ? facts.lastCompleteSuccessAt ?? facts.lastSuccessAt : facts.lastSuccessAt;
  if (facts.lastFailureAt !== undefined && facts.lastFailureAt > (clearedBy ?? 0)) return 'failed';
  if (overdueSince(facts, now) !== undefined) return 'overdue';
  if (facts.isLastIncomplete === true) return 'incomplete';
  return facts.lastSuccessAt === undefined ? 'never' : 'ok';
}
