// Decides a client's state on the status port: running, failed, overdue, ok, or never backed up.
// Pure, so the status report and the overdue notifier agree by construction.

export type ClientState = 'ok' | 'running' | 'failed' | 'overdue' | 'never';

export interface ClientFacts {
  readonly isRunning: boolean;
  /** finished_at of the last committed backup (ms), if any. */
  readonly lastSuccessAt: number | undefined;
  /** Time of the last failed backup (ms), if any since the server started. */
  readonly lastFailureAt: number | undefined;
  readonly warnAfterSeconds: number | undefined;
  /** Start of the server process: a client never backed up is measured from there. */
  readonly serverStartedAt: number;
}

/** The moment the client became overdue, or undefined if it is not overdue at `now`. */
export function overdueSince(facts: ClientFacts, now: number): number | undefined {
  if (facts.warnAfterSeconds === undefined) return undefined;
  const reference = facts.lastSuccessAt ?? facts.serverStartedAt;
  const deadline = reference + facts.warnAfterSeconds * 1000;
  return now > deadline ? deadline : undefined;
}

/** A running backup wins (it is what the operator waits for), then a failure newer than the last success. */
export function clientStateOf(facts: ClientFacts, now: number): ClientState {
  if (facts.isRunning) return 'running';
  if (facts.lastFailureAt !== undefined && facts.lastFailureAt > (facts.lastSuccessAt ?? 0)) return 'failed';
  if (overdueSince(facts, now) !== undefined) return 'overdue';
  return facts.lastSuccessAt === undefined ? 'never' : 'ok';
}
