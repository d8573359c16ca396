// Fire times of a cron expression (croner): the next one after a moment, and the last one before it.
// Only the arithmetic: croner's own timers are never used, so the scheduler's clock stays injectable.
import { Cron } from 'croner';

export interface Schedule {
  readonly expression: string;
  /** The first fire time strictly after `after` (ms since the epoch), or undefined if none is left. */
  nextAfter(after: number): number | undefined;
  /** The last fire time at or before `at`, or undefined if the expression never fired before it. */
  previousAt(at: number): number | undefined;
}

/** Throws croner's error for a bad expression; node-config has already checked the configured ones. */
export function cronSchedule(expression: string): Schedule {
  const cron = new Cron(expression);
  return Object.freeze({
    expression,
    nextAfter: (after: number) => cron.nextRun(new Date(after))?.getTime(),
    previousAt: (at: number) => {
      // previousRuns looks strictly before its reference; one millisecond later includes `at` itself.
      const [previous] = cron.previousRuns(1, new Date(at + 1));
      return previous?.getTime();
    },
  });
}
