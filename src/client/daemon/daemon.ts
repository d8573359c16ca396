// `cpsbackup daemon`: schedules node.conf's complete, partial and receive jobs with the Scheduler,
// runs a complete backup missed while it was down, and stops cleanly when asked.
import type { NodeConfig } from '../../common/config/node-config';
import { AuthError, ConfigError, errorMessage, LostLinkError, ReplicaMismatchError } from '../../common/errors';
import type { Logger } from '../../common/logger';
import type { StorageConfig } from '../sources/storage-config';
import { systemClock, type Clock } from './clock';
import { cronSchedule, type Schedule } from './cron-schedule';
import { listOwnBackups, runJob, type JobName } from './daemon-jobs';
import { isCompleteBackupMissed } from './missed-run';
import { explainConnectionFailure } from '../certificate-refusal';
import { Scheduler, type ScheduledJob } from './scheduler';

const MINUTE = 60_000;
/** After a failed run: 5, 15 and 30 minutes, then hourly, while the next scheduled run is further off. */
const RETRY_DELAYS = [5 * MINUTE, 15 * MINUTE, 30 * MINUTE, 60 * MINUTE];

export interface DaemonOptions {
  readonly logger: Logger;
  readonly storage: () => StorageConfig | undefined;
  /** Aborted: schedule nothing more, let the running job finish, then return. */
  readonly stopSignal: AbortSignal;
  /** Aborted: abort the running job too (a second SIGTERM). */
  readonly forceSignal?: AbortSignal;
  readonly clock?: Clock;
  /** Runs one job; tests replace it, the CLI keeps the real backups and receives. */
  readonly runJob?: (name: JobName, signal: AbortSignal) => Promise<void>;
  /** The server's list of this node's backups, for the missed-run check. */
  readonly listBackups?: typeof listOwnBackups;
}

function schedulesOf(config: NodeConfig): [JobName, Schedule][] {
  const entries: [JobName, string | undefined][] = [
    ['complete', config.scheduleComplete], ['partial', config.schedulePartial], ['receive', config.scheduleReceive],
  ];
  return entries.flatMap(([name, expression]) => (expression === undefined ? [] : [[name, cronSchedule(expression)] as [JobName, Schedule]]));
}

export async function runDaemon(config: NodeConfig, options: DaemonOptions): Promise<void> {
  const { logger } = options;
  const clock = options.clock ?? systemClock;
  const schedules = schedulesOf(config);
  if (schedules.length === 0) {
    throw new ConfigError(config.file, undefined, 'the daemon has nothing to run: set schedule_complete, schedule_partial or schedule_receive');
  }
  // A refused certificate is logged as such, not as a server that is down: the operator must act.
  const run = options.runJob ?? ((name, signal) => runJob(name, { config, storage: options.storage, logger }, signal)
    .catch(async (error: unknown) => { throw await explainConnectionFailure(error, config); }));
  const jobs: ScheduledJob[] = schedules.map(([name, schedule]) => ({
    name, nextAfter: (after) => schedule.nextAfter(after), run: (signal) => run(name, signal),
    retryDelays: RETRY_DELAYS,
    // A broken config, a replica that follows no backup on this server, or a chain link check --repair took a dump
    // out of, needs the operator (a complete backup), not a retry (found by review: the lost link retried hourly).
    isRetryable: (error) => !(error instanceof ConfigError || error instanceof ReplicaMismatchError || error instanceof LostLinkError),
  }));
  const scheduler = new Scheduler(jobs, { clock, logger });
  const stopped = new Promise<void>((resolve) => {
    if (options.stopSignal.aborted) resolve();
    else options.stopSignal.addEventListener('abort', () => resolve(), { once: true });
  });
  const onForce = (): void => {
    logger.warn('stopping now: the running job is aborted');
    void scheduler.stop({ isForced: true });
  };
  options.forceSignal?.addEventListener('abort', onForce, { once: true });
  try {
    logger.info(`daemon started (pid ${process.pid}, ${config.file})`);
    scheduler.start();
    const now = clock.now();
    for (const [name, schedule] of schedules) {
      const next = schedule.nextAfter(now);
      logger.info(`${name}: scheduled "${schedule.expression}", next run ${next === undefined ? 'never' : new Date(next).toISOString()}`);
    }
    const complete = schedules.find(([name]) => name === 'complete');
    if (complete !== undefined && !options.stopSignal.aborted) await catchUpComplete(config, complete[1], now, scheduler, options);
    await stopped;
    logger.info(scheduler.runningJob === undefined ? 'stopping' : `stopping after the running ${scheduler.runningJob} job`);
    await scheduler.stop({ isForced: options.forceSignal?.aborted === true });
    logger.info('stopped');
  } finally {
    options.forceSignal?.removeEventListener('abort', onForce);
    await scheduler.stop();
  }
}

/**
 * One complete backup now if the last one the server has finished before the schedule last fired, or
 * if that cannot be known: a daemon started before the network (systemd, DNS), with the server away or
 * listing refused (client_can_list = 0), used to warn once and leave the node without a backup until
 * the next fire time, up to two days between backups. A duplicate complete backup costs little (its
 * chunks are deduplicated); a missing one costs a day. A run the server cannot take fails and is
 * retried as any failed run is (5, 15, 30 minutes, then hourly).
 */
async function catchUpComplete(config: NodeConfig, schedule: Schedule, now: number, scheduler: Scheduler,
  options: DaemonOptions): Promise<void> {
  const previousFire = schedule.previousAt(now);
  if (previousFire === undefined) return; // never due yet: nothing can have been missed
  const slot = `missed run of ${new Date(previousFire).toISOString()}`;
  let reason: string;
  try {
    const backups = await (options.listBackups ?? listOwnBackups)(config);
    if (!isCompleteBackupMissed(backups, previousFire)) return;
    reason = `${slot}: no complete backup since`;
  } catch (error) {
    const explained = await explainConnectionFailure(error, config);
    const isListingRefused = explained instanceof AuthError && explained.message.includes('client_can_list');
    options.logger.warn(isListingRefused
      ? 'complete: the server does not let this node list its backups (client_can_list = 0 in its record there): '
        + 'whether a run was missed cannot be known; one runs now (set client_can_list = 1 to let the daemon check)'
      : `complete: cannot check for a missed run: ${errorMessage(explained)}; a complete backup runs now, retried if it fails`);
    reason = `${slot}?: the check could not be made`;
  }
  // A SIGTERM that came while the server answered must not start a backup.
  if (options.stopSignal.aborted) return;
  // The schedule may have fired while the server answered: that run, begun after start-up, covers the missed one.
  if (scheduler.isPending('complete')) options.logger.info(`complete: ${reason}; covered by the run already under way`);
  else scheduler.runNow('complete', reason);
}
