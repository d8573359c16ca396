// Runs named jobs at their schedules' fire times, one job at a time, on an injectable clock.
// A job due while it still runs (or already waits) is skipped and logged, never stacked.
import type { Logger } from '../../common/logger';
import { errorMessage } from '../../common/errors';
import type { Clock } from './clock';

const MINUTE = 60_000;
/** The longest a timer waits before the wall clock is read again: a run after a suspend or clock step is at most this late. */
const CHECK_INTERVAL_MILLISECONDS = MINUTE;
/** A run this much later than its fire time is logged as late: the host slept, or its clock jumped. */
const LATE_MARGIN_MILLISECONDS = 2 * MINUTE;

export interface ScheduledJob {
  readonly name: string;
  /** The first fire time strictly after `after`, or undefined when the job is never due again. */
  nextAfter(after: number): number | undefined;
  /** Rejections are logged; they never stop the scheduler. `signal` aborts only on a forced stop. */
  run(signal: AbortSignal): Promise<void>;
  /**
   * After a failed run, the waits before each retry (the last one repeats); a retry that would
   * start at or after the next fire time is left to that run. None: a failure waits for the schedule.
   */
  readonly retryDelays?: readonly number[];
  /** Whether a failure is worth a retry (a broken config is not); default: every failure. */
  isRetryable?(error: unknown): boolean;
}

export interface SchedulerOptions {
  readonly clock: Clock;
  readonly logger: Logger;
}

interface Running {
  readonly job: ScheduledJob;
  readonly startedAt: number;
  readonly done: Promise<void>;
}

/**
 * All jobs share one lane: backups and receives on one node write the same dump folders, so a
 * job due while another runs waits for it (at most once), and a job due while it runs itself or
 * already waits is skipped with a warning. Callers may rely on: `stop()` arms nothing more, drops
 * waiting jobs and resolves when the running one has finished; a job's failure is logged only.
 */
export class Scheduler {
  private readonly timers = new Map<string, unknown>();
  private readonly retryTimers = new Map<string, unknown>();
  /** Failed runs in a row, by job; a success or the next scheduled fire time starts again from the first delay. */
  private readonly failures = new Map<string, number>();
  private readonly waiting: { job: ScheduledJob; reason: string }[] = [];
  private running: Running | undefined;
  private isStopped = false;
  private readonly abortController = new AbortController();

  constructor(private readonly jobs: readonly ScheduledJob[], private readonly options: SchedulerOptions) {
    const names = new Set(jobs.map((job) => job.name));
    if (names.size !== jobs.length) throw new Error('scheduled jobs need distinct names');
  }

  start(): void {
    for (const job of this.jobs) this.arm(job, this.options.clock.now());
  }

  /** Runs a job now (or after the running one), outside its schedule: the missed run on start-up. */
  runNow(name: string, reason: string): void {
    const job = this.jobs.find((candidate) => candidate.name === name);
    if (job === undefined) throw new Error(`no scheduled job "${name}"`);
    this.due(job, reason);
  }

  get runningJob(): string | undefined {
    return this.running?.job.name;
  }

  /** True while the named job runs or waits for its turn. */
  isPending(name: string): boolean {
    return this.running?.job.name === name || this.waiting.some((entry) => entry.job.name === name);
  }

  /** Stops scheduling and waits for the running job; `isForced` also aborts it. */
  async stop(options: { isForced?: boolean } = {}): Promise<void> {
    if (!this.isStopped) {
      this.isStopped = true;
      for (const handle of [...this.timers.values(), ...this.retryTimers.values()]) this.options.clock.clearTimer(handle);
      this.timers.clear();
      this.retryTimers.clear();
      for (const { job } of this.waiting.splice(0)) this.options.logger.info(`${job.name}: not started, the daemon is stopping`);
    }
    if (options.isForced) this.abortController.abort(new Error('the daemon was stopped'));
    while (this.running) await this.running.done;
  }

  private arm(job: ScheduledJob, after: number): void {
    if (this.isStopped) return;
    const fireAt = job.nextAfter(after);
    if (fireAt === undefined) {
      this.options.logger.info(`${job.name}: no fire time left in its schedule`);
      return;
    }
    this.wakeAt(this.timers, job.name, fireAt, (now) => {
      const lateBy = now - fireAt;
      if (lateBy > LATE_MARGIN_MILLISECONDS) {
        this.options.logger.warn(`${job.name}: ${Math.round(lateBy / MINUTE)} min late for its run of ${new Date(fireAt).toISOString()} `
          + '(the host was suspended, or its clock stepped forward)');
      }
      // From now, not fireAt: after a suspend or a clock jump the job is due once, not once per missed slot.
      this.arm(job, Math.max(now, fireAt));
      this.failures.delete(job.name);
      this.due(job, `scheduled for ${new Date(fireAt).toISOString()}`);
    });
  }

  /**
   * Calls `callback` once the wall clock reaches `at`. Timers count time the host is awake (Node's run
   * on CLOCK_MONOTONIC, which stops during a suspend) and know nothing of clock steps: one timer for
   * the whole wait put a 03:30 job armed at midnight, on a VM suspended from 01:00 to 08:00, at 10:30.
   * Waking at least once a minute to read the wall clock keeps a run at most a minute late.
   */
  private wakeAt(timers: Map<string, unknown>, name: string, at: number, callback: (now: number) => void): void {
    const { clock } = this.options;
    const wake = (): void => {
      timers.delete(name);
      if (this.isStopped) return;
      const now = clock.now();
      if (now < at) timers.set(name, clock.setTimer(Math.min(at - now, CHECK_INTERVAL_MILLISECONDS), wake));
      else callback(now);
    };
    timers.set(name, clock.setTimer(Math.min(at - clock.now(), CHECK_INTERVAL_MILLISECONDS), wake));
  }

  private due(job: ScheduledJob, reason: string): void {
    if (this.isStopped) return;
    const { logger } = this.options;
    // Whatever brings the job round (its schedule, a missed run) replaces a retry still waiting.
    this.clearRetry(job);
    if (this.running?.job === job) {
      logger.warn(`${job.name}: skipped (${reason}): its previous run, started ${new Date(this.running.startedAt).toISOString()}, is still running`);
      return;
    }
    if (this.waiting.some((entry) => entry.job === job)) {
      logger.warn(`${job.name}: skipped (${reason}): a run is already waiting for ${this.running?.job.name ?? 'its turn'}`);
      return;
    }
    if (this.running) {
      logger.info(`${job.name}: due (${reason}), waits for ${this.running.job.name} to finish`);
      this.waiting.push({ job, reason });
      return;
    }
    this.launch(job, reason);
  }

  private launch(job: ScheduledJob, reason: string): void {
    const { clock, logger } = this.options;
    const startedAt = clock.now();
    logger.info(`${job.name}: started (${reason})`);
    const done = Promise.resolve()
      .then(() => job.run(this.abortController.signal))
      .then(
        () => {
          logger.info(`${job.name}: finished in ${((clock.now() - startedAt) / 1000).toFixed(1)} s`);
          this.failures.delete(job.name);
        },
        (error) => {
          logger.error(`${job.name}: failed after ${((clock.now() - startedAt) / 1000).toFixed(1)} s: ${errorMessage(error)}`);
          this.armRetry(job, error);
        },
      )
      .finally(() => {
        this.running = undefined;
        const next = this.waiting.shift();
        if (next && !this.isStopped) this.launch(next.job, next.reason);
      });
    this.running = { job, startedAt, done };
  }

  /**
   * A nightly backup that failed on a server restart or a dump that lost its database for a minute
   * would otherwise wait a whole day: it is tried again after a short wait, then longer ones, until
   * its next scheduled run comes first.
   */
  private armRetry(job: ScheduledJob, error: unknown): void {
    const delays = job.retryDelays ?? [];
    if (this.isStopped || delays.length === 0 || job.isRetryable?.(error) === false) return;
    const { clock, logger } = this.options;
    const failures = (this.failures.get(job.name) ?? 0) + 1;
    this.failures.set(job.name, failures);
    const now = clock.now();
    const retryAt = now + delays[Math.min(failures, delays.length) - 1];
    const nextFire = job.nextAfter(now);
    if (nextFire !== undefined && retryAt >= nextFire) {
      logger.info(`${job.name}: not retried: its next scheduled run, at ${new Date(nextFire).toISOString()}, comes first`);
      return;
    }
    logger.warn(`${job.name}: retried at ${new Date(retryAt).toISOString()} (failed ${failures} time${failures === 1 ? '' : 's'} in a row)`);
    this.wakeAt(this.retryTimers, job.name, retryAt, () => this.due(job, `retry ${failures} after a failed run`));
  }

  private clearRetry(job: ScheduledJob): void {
    const handle = this.retryTimers.get(job.name);
    if (handle === undefined) return;
    this.options.clock.clearTimer(handle);
    this.retryTimers.delete(job.name);
  }
}
