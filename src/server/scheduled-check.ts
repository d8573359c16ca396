// server.conf's check_schedule: the running server checks its own store on a cron schedule,
// one at a time beside backups and GC, logs the verdict, keeps the last result for /status, and notifies damage.
import { Cron } from 'croner';
import { checkReportLines, isClean, type CheckReport } from '../chunkstore/check';
import { errorMessage } from '../common/errors';
import type { ServerContext } from './server-context';
import { checkNotification } from './notify/notification';
import type { Notifier } from './notify/notifier';
import type { LastCheck } from './check-result';

export type { LastCheck } from './check-result';

export class ScheduledCheck {
  private job: Cron | undefined;
  private run: Promise<LastCheck> | undefined;
  private last: LastCheck | undefined;
  /** The damage last notified; the same damage found again on the next tick is not notified twice. */
  private notifiedDamage: string | undefined;

  constructor(private readonly context: ServerContext, private readonly notifier: Notifier) {}

  get lastCheck(): LastCheck | undefined {
    return this.last;
  }

  start(): void {
    const expression = this.context.config.checkSchedule;
    if (expression === undefined || this.job !== undefined) return;
    // protect: a check longer than the interval is not started twice; runNow() guards as well.
    this.job = new Cron(expression, { protect: true }, async () => {
      await this.runNow();
    });
    this.context.logger.info(`check scheduled: "${expression}", reading ${this.context.config.checkReadDataPercent}% of chunks; next at ${this.job.nextRun()?.toISOString() ?? 'never'}`);
  }

  /** Runs one check now, or joins the one in progress; never throws (a failure is a result too). */
  runNow(): Promise<LastCheck> {
    this.run ??= this.checkOnce().finally(() => {
      this.run = undefined;
    });
    return this.run;
  }

  /** Stops the schedule and waits for a check in progress, so the store can close under it. */
  async stop(): Promise<void> {
    this.job?.stop();
    await this.run;
  }

  private async checkOnce(): Promise<LastCheck> {
    const { store, logger, config } = this.context;
    const startedAt = Date.now();
    const readDataPercent = config.checkReadDataPercent;
    let result: LastCheck;
    // Beside running backups and restores: the store never lists a chunk before its pack is stored.
    try {
      const report = await store.check({ readDataPercent });
      result = lastCheckOf(report, startedAt, readDataPercent);
      this.last = result;
      this.report(report, result);
    } catch (error) {
      result = failedCheck(startedAt, readDataPercent, errorMessage(error));
      this.last = result;
      logger.error(`check failed: ${(error as Error)?.stack ?? String(error)}`);
    }
    return result;
  }

  private report(report: CheckReport, result: LastCheck): void {
    const { logger } = this.context;
    const lines = checkReportLines(report);
    if (result.isClean) {
      // Healed damage leaves a clean store, but the bucket (or disk) did lose bytes: the operator hears of each.
      for (const line of lines) if (line.startsWith('healed: ')) logger.warn(`check: ${line}`);
      logger.info(`check: ${lines[0]}; ${lines.at(-1)}`);
      this.notifiedDamage = undefined;
      return;
    }
    for (const line of lines) logger.error(`check: ${line}`);
    const damage = damageKey(report);
    if (damage === this.notifiedDamage) return;
    this.notifiedDamage = damage;
    this.notifier.send(checkNotification(report, lines, Date.parse(result.at)));
  }
}

function lastCheckOf(report: CheckReport, startedAt: number, readDataPercent: number): LastCheck {
  return {
    at: new Date(startedAt).toISOString(),
    durationSeconds: (Date.now() - startedAt) / 1000,
    isClean: isClean(report),
    damagedChunks: report.damagedChunks.length,
    damagedContents: report.damagedContents.length,
    affectedFiles: report.affectedFiles.length,
    affectedBackups: report.affectedBackups.length,
    problems: report.problems.length,
    chunksRead: report.counts.chunksRead,
    readDataPercent,
    error: null,
  };
}

function failedCheck(startedAt: number, readDataPercent: number, error: string): LastCheck {
  return {
    at: new Date(startedAt).toISOString(), durationSeconds: (Date.now() - startedAt) / 1000, isClean: false,
    damagedChunks: 0, damagedContents: 0, affectedFiles: 0, affectedBackups: 0, problems: 0, chunksRead: 0, readDataPercent, error,
  };
}

/** Identifies the damage found, so a later check notifies again only when it changed. */
function damageKey(report: CheckReport): string {
  return JSON.stringify([
    report.damagedChunks.map((damage) => damage.hash).sort(),
    report.damagedContents.map((damage) => damage.contentId).sort(),
    [...report.problems].sort(),
  ]);
}
