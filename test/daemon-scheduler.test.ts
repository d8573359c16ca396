// The daemon's scheduler on an injected clock: jobs start at their cron fire times, a slow job is
// never overlapped (the skipped runs are logged), jobs wait for each other in one lane, stop() waits
// for the running job, and a complete backup missed while the daemon was down runs once at start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../src/client/daemon/clock';
import { cronSchedule } from '../src/client/daemon/cron-schedule';
import { runDaemon } from '../src/client/daemon/daemon';
import { isCompleteBackupMissed } from '../src/client/daemon/missed-run';
import { Scheduler, type ScheduledJob } from '../src/client/daemon/scheduler';
import { nodeConfigFromText } from '../src/common/config/node-config';
import type { Logger } from '../src/common/logger';
import { AuthError, ConfigError, LostLinkError } from '../src/common/errors';
import { BackupKind, type BackupSummary } from '../src/proto/cpsbackup';

/** Timers fire only when the test advances time, in time order, each followed by the promises it started. */
class ManualClock implements Clock {
  private timers: { id: number; at: number; callback: () => void }[] = [];
  private nextId = 1;

  constructor(private time: number) {}

  now(): number {
    return this.time;
  }

  setTimer(delayMilliseconds: number, callback: () => void): unknown {
    const id = this.nextId++;
    this.timers.push({ id, at: this.time + Math.max(0, delayMilliseconds), callback });
    return id;
  }

  clearTimer(handle: unknown): void {
    this.timers = this.timers.filter((timer) => timer.id !== handle);
  }

  /**
   * A suspend (or a clock stepped forward): the wall clock jumps, while pending timers keep the delay
   * they had left, as Node's timers on CLOCK_MONOTONIC do across a suspend.
   */
  async suspendFor(milliseconds: number): Promise<void> {
    this.time += milliseconds;
    this.timers = this.timers.map((timer) => ({ ...timer, at: timer.at + milliseconds }));
    await settle();
  }

  get pendingTimers(): number {
    return this.timers.length;
  }

  async advanceTo(iso: string): Promise<void> {
    const target = Date.parse(iso);
    for (;;) {
      await settle();
      const due = this.timers.filter((timer) => timer.at <= target).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (due === undefined) break;
      this.timers = this.timers.filter((timer) => timer !== due);
      this.time = due.at;
      due.callback();
    }
    this.time = target;
    await settle();
  }
}

async function settle(): Promise<void> {
  for (let round = 0; round < 5; round++) await new Promise((resolve) => setImmediate(resolve));
}

function recordingLogger(clock: Clock): Logger & { lines: string[] } {
  const lines: string[] = [];
  const log = (level: string) => (message: string): void => { lines.push(`${new Date(clock.now()).toISOString()} ${level} ${message}`); };
  return { lines, info: log('info'), warn: log('warn'), error: log('error') };
}

interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => { resolve = done; });
  return { promise, resolve };
}

/** A job on a cron expression that records its start times and, when `hold` is given, runs until released. */
function cronJob(name: string, expression: string, clock: Clock, runs: { name: string; at: string }[],
  hold?: () => Promise<void>): ScheduledJob {
  const schedule = cronSchedule(expression);
  return {
    name,
    nextAfter: (after) => schedule.nextAfter(after),
    run: async () => {
      runs.push({ name, at: new Date(clock.now()).toISOString() });
      await hold?.();
    },
  };
}

test('jobs start at their cron fire times', async () => {
  const clock = new ManualClock(Date.parse('2026-03-01T02:50:00Z'));
  const logger = recordingLogger(clock);
  const runs: { name: string; at: string }[] = [];
  const scheduler = new Scheduler([
    cronJob('complete', '30 3 * * *', clock, runs),
    cronJob('partial', '*/15 * * * *', clock, runs),
  ], { clock, logger });
  scheduler.start();
  await clock.advanceTo('2026-03-02T03:31:00Z');
  const completes = runs.filter((run) => run.name === 'complete').map((run) => run.at);
  const partials = runs.filter((run) => run.name === 'partial').map((run) => run.at);
  assert.deepEqual(completes, ['2026-03-01T03:30:00.000Z', '2026-03-02T03:30:00.000Z']);
  assert.equal(partials.length, 4 * 24 + 3, 'every quarter hour from 03:00 on day one to 03:30 on day two');
  assert.equal(partials[0], '2026-03-01T03:00:00.000Z');
  assert.ok(partials.every((at) => /T\d\d:(00|15|30|45):00\.000Z$/.test(at)), 'on the quarter hours only');
  assert.equal(logger.lines.filter((line) => / warn | error /.test(line)).length, 0, logger.lines.join('\n'));
  await scheduler.stop();
  assert.equal(clock.pendingTimers, 0, 'stop disarms every timer');
});

test('a slow job is never overlapped: runs due meanwhile are skipped and logged, the next on time runs', async () => {
  const clock = new ManualClock(Date.parse('2026-03-01T10:00:00Z'));
  const logger = recordingLogger(clock);
  const runs: { name: string; at: string }[] = [];
  let active = 0;
  let mostActive = 0;
  const slow = deferred();
  let isFirst = true;
  const scheduler = new Scheduler([cronJob('partial', '*/5 * * * *', clock, runs, async () => {
    active++;
    mostActive = Math.max(mostActive, active);
    if (isFirst) {
      isFirst = false;
      await slow.promise; // a dumper that takes 12 minutes
    }
    active--;
  })], { clock, logger });
  scheduler.start();
  await clock.advanceTo('2026-03-01T10:17:00Z');
  slow.resolve();
  await clock.advanceTo('2026-03-01T10:26:00Z');
  await scheduler.stop();
  assert.deepEqual(runs.map((run) => run.at), ['2026-03-01T10:05:00.000Z', '2026-03-01T10:20:00.000Z', '2026-03-01T10:25:00.000Z']);
  assert.equal(mostActive, 1);
  const skipped = logger.lines.filter((line) => line.includes('partial: skipped'));
  assert.equal(skipped.length, 2, logger.lines.join('\n'));
  assert.match(skipped[0], /^2026-03-01T10:10:00\.000Z warn partial: skipped \(scheduled for 2026-03-01T10:10:00\.000Z\): its previous run, started 2026-03-01T10:05:00\.000Z, is still running$/);
  assert.match(skipped[1], /^2026-03-01T10:15:00\.000Z warn /);
  assert.ok(logger.lines.some((line) => line.startsWith('2026-03-01T10:17:00.000Z info partial: finished in 720.0 s')), logger.lines.join('\n'));
});

test('one lane: a job due while another runs waits for it, once; a failing job is logged and the schedule goes on', async () => {
  const clock = new ManualClock(Date.parse('2026-03-01T03:20:00Z'));
  const logger = recordingLogger(clock);
  const runs: { name: string; at: string }[] = [];
  const partialHold = deferred();
  let partialRuns = 0;
  const scheduler = new Scheduler([
    cronJob('complete', '30 3 * * *', clock, runs),
    cronJob('partial', '*/5 * * * *', clock, runs, async () => {
      partialRuns++;
      if (partialRuns === 1) await partialHold.promise; // the 03:25 partial is still running at 03:30 and 03:35
      if (partialRuns === 2) throw new Error('dumper exited with code 1');
    }),
  ], { clock, logger });
  scheduler.start();
  await clock.advanceTo('2026-03-01T03:37:00Z');
  assert.deepEqual(runs, [{ name: 'partial', at: '2026-03-01T03:25:00.000Z' }], 'the complete backup waits');
  partialHold.resolve();
  await clock.advanceTo('2026-03-01T03:41:00Z');
  await scheduler.stop();
  assert.deepEqual(runs, [
    { name: 'partial', at: '2026-03-01T03:25:00.000Z' },
    { name: 'complete', at: '2026-03-01T03:37:00.000Z' },
    { name: 'partial', at: '2026-03-01T03:40:00.000Z' },
  ]);
  assert.ok(logger.lines.some((line) => /03:30:00\.000Z info complete: due .* waits for partial/.test(line)), logger.lines.join('\n'));
  assert.ok(logger.lines.some((line) => /03:35:00\.000Z warn partial: skipped/.test(line)), logger.lines.join('\n'));
  assert.ok(logger.lines.some((line) => /03:40:00\.000Z error partial: failed after 0\.0 s: dumper exited with code 1/.test(line)), logger.lines.join('\n'));
});

test('stop() schedules nothing more and resolves only when the running job has finished', async () => {
  const clock = new ManualClock(Date.parse('2026-03-01T10:00:00Z'));
  const logger = recordingLogger(clock);
  const runs: { name: string; at: string }[] = [];
  const hold = deferred();
  const scheduler = new Scheduler([cronJob('complete', '*/5 * * * *', clock, runs, () => hold.promise)], { clock, logger });
  scheduler.start();
  await clock.advanceTo('2026-03-01T10:06:00Z');
  let isStopped = false;
  const stopping = scheduler.stop().then(() => { isStopped = true; });
  await clock.advanceTo('2026-03-01T10:30:00Z');
  assert.equal(isStopped, false, 'still waiting for the running job');
  hold.resolve();
  await stopping;
  assert.deepEqual(runs.map((run) => run.at), ['2026-03-01T10:05:00.000Z'], 'nothing started after stop()');
  assert.equal(clock.pendingTimers, 0);
});

function complete(finishedAt: string, kind = BackupKind.BACKUP_KIND_COMPLETE): BackupSummary {
  const finishedAtMs = Date.parse(finishedAt);
  return {
    backupId: 1, startedAtMs: finishedAtMs - 60_000, finishedAtMs, files: 1, logicalBytes: 1, newBytes: 1, storedBytes: 1,
    kind, labels: {}, deletable: true, unreadableFiles: 0, isProtected: false, hostname: 'prod',
  };
}

test('missed run rule: the newest complete backup finished before the last fire time', () => {
  const lastFire = Date.parse('2026-03-05T03:30:00Z');
  assert.equal(isCompleteBackupMissed([], lastFire), true, 'never backed up');
  assert.equal(isCompleteBackupMissed([complete('2026-03-04T03:40:00Z')], lastFire), true);
  assert.equal(isCompleteBackupMissed([complete('2026-03-05T03:41:00Z')], lastFire), false);
  assert.equal(isCompleteBackupMissed([complete('2026-03-04T03:40:00Z'), complete('2026-03-05T09:00:00Z', BackupKind.BACKUP_KIND_PARTIAL)], lastFire),
    true, 'a partial backup does not stand for a complete one');
  assert.equal(isCompleteBackupMissed([], undefined), false, 'a schedule that never fired missed nothing');
});

test('the daemon, down for five days, runs the missed complete backup once at start, then on schedule', async (t) => {
  const folder = mkdtempSync(join(tmpdir(), 'cpsbackup-daemon-'));
  t.after(() => rmSync(folder, { recursive: true, force: true }));
  for (const name of ['cert.pem', 'key.pem', 'ca.pem']) writeFileSync(join(folder, name), '');
  const config = nodeConfigFromText(join(folder, 'node.conf'), [
    'server = 127.0.0.1', 'ssl_cert = cert.pem', 'ssl_key = key.pem', 'ssl_ca = ca.pem',
    'schedule_complete = 30 3 * * *', 'schedule_partial = 0 * * * *',
  ].join('\n'));
  const clock = new ManualClock(Date.parse('2026-03-10T09:10:00Z'));
  const logger = recordingLogger(clock);
  const runs: { name: string; at: string }[] = [];
  const stop = new AbortController();
  const daemon = runDaemon(config, {
    logger, clock, storage: () => undefined, stopSignal: stop.signal,
    listBackups: async () => [complete('2026-03-05T03:45:00Z')],
    runJob: async (name) => { runs.push({ name, at: new Date(clock.now()).toISOString() }); },
  });
  await clock.advanceTo('2026-03-11T03:31:00Z');
  stop.abort();
  await daemon;
  const completes = runs.filter((run) => run.name === 'complete').map((run) => run.at);
  assert.deepEqual(completes, ['2026-03-10T09:10:00.000Z', '2026-03-11T03:30:00.000Z'], 'once at start, not once per missed day');
  assert.equal(runs.filter((run) => run.name === 'partial').length, 18, 'hourly from 10:00 to 03:00 the next day');
  assert.ok(logger.lines.some((line) => /complete: started \(missed run of 2026-03-10T03:30:00\.000Z/.test(line)), logger.lines.join('\n'));
  assert.equal(clock.pendingTimers, 0, 'a stopped daemon leaves no timer');

  // The same start after a backup that covers the last fire time runs nothing until the schedule says so.
  const quiet: string[] = [];
  const stopQuiet = new AbortController();
  const quietClock = new ManualClock(Date.parse('2026-03-10T09:10:00Z'));
  const second = runDaemon(config, {
    logger: recordingLogger(quietClock), clock: quietClock, storage: () => undefined, stopSignal: stopQuiet.signal,
    listBackups: async () => [complete('2026-03-10T03:50:00Z')],
    runJob: async (name) => { quiet.push(name); },
  });
  await quietClock.advanceTo('2026-03-10T09:50:00Z');
  stopQuiet.abort();
  await second;
  assert.deepEqual(quiet, []);
});

test('a scheduled run that fires while the server answers the missed-run check covers the missed run: one run, not a skip warning', async (t) => {
  const folder = mkdtempSync(join(tmpdir(), 'cpsbackup-daemon-'));
  t.after(() => rmSync(folder, { recursive: true, force: true }));
  for (const name of ['cert.pem', 'key.pem', 'ca.pem']) writeFileSync(join(folder, name), '');
  const config = nodeConfigFromText(join(folder, 'node.conf'), [
    'server = 127.0.0.1', 'ssl_cert = cert.pem', 'ssl_key = key.pem', 'ssl_ca = ca.pem', 'schedule_complete = 30 3 * * *',
  ].join('\n'));
  const clock = new ManualClock(Date.parse('2026-03-10T03:29:59Z'));
  const logger = recordingLogger(clock);
  const runs: string[] = [];
  let answer: (backups: BackupSummary[]) => void = () => undefined;
  let finishRun: () => void = () => undefined;
  const stop = new AbortController();
  const daemon = runDaemon(config, {
    logger, clock, storage: () => undefined, stopSignal: stop.signal,
    listBackups: () => new Promise((resolve) => { answer = resolve; }),
    runJob: (name) => { runs.push(`${name} at ${new Date(clock.now()).toISOString()}`); return new Promise((done) => { finishRun = done; }); },
  });
  await clock.advanceTo('2026-03-10T03:30:01Z');
  answer([complete('2026-03-08T03:45:00Z')]);
  await clock.advanceTo('2026-03-10T03:30:02Z');
  finishRun();
  await clock.advanceTo('2026-03-10T03:31:00Z');
  stop.abort();
  await daemon;
  assert.deepEqual(runs, ['complete at 2026-03-10T03:30:00.000Z']);
  assert.ok(logger.lines.some((line) => /complete: missed run of 2026-03-09T03:30:00\.000Z: no complete backup since; covered by the run already under way/.test(line)),
    logger.lines.join('\n'));
  assert.ok(!logger.lines.some((line) => /skipped/.test(line)), logger.lines.join('\n'));
});

test('a failed run is retried after 5, 15 and 30 minutes, then hourly, until its next scheduled run comes first; a success or the schedule starts over', async () => {
  const clock = new ManualClock(Date.parse('2026-03-01T03:00:00Z'));
  const logger = recordingLogger(clock);
  const runs: { name: string; at: string }[] = [];
  let failuresLeft = 5;
  const nightly = { ...cronJob('complete', '30 3 * * *', clock, runs, async () => {
    if (failuresLeft-- > 0) throw new Error('connection refused');
  }), retryDelays: [5 * 60_000, 15 * 60_000, 30 * 60_000, 60 * 60_000] };
  const scheduler = new Scheduler([nightly], { clock, logger });
  scheduler.start();
  await clock.advanceTo('2026-03-01T08:00:00Z');
  assert.deepEqual(runs.map((run) => run.at), [
    '2026-03-01T03:30:00.000Z', '2026-03-01T03:35:00.000Z', '2026-03-01T03:50:00.000Z', '2026-03-01T04:20:00.000Z',
    '2026-03-01T05:20:00.000Z', '2026-03-01T06:20:00.000Z',
  ], 'five failures, then the sixth run works and nothing more runs before the schedule');
  assert.ok(logger.lines.some((line) => line.includes('warn complete: retried at 2026-03-01T03:35:00.000Z (failed 1 time in a row)')), logger.lines.join('\n'));
  assert.ok(logger.lines.some((line) => line.includes('info complete: finished')), logger.lines.join('\n'));

  // The next night fails too: the waits start again from 5 minutes.
  failuresLeft = 1;
  await clock.advanceTo('2026-03-02T04:00:00Z');
  assert.deepEqual(runs.slice(6).map((run) => run.at), ['2026-03-02T03:30:00.000Z', '2026-03-02T03:35:00.000Z']);
  await scheduler.stop();
  assert.equal(clock.pendingTimers, 0, 'stop disarms retries as well');
});

test('a retry never runs into the next scheduled run; a job whose failure is not retryable waits for the schedule', async () => {
  const clock = new ManualClock(Date.parse('2026-03-01T10:00:00Z'));
  const logger = recordingLogger(clock);
  const runs: { name: string; at: string }[] = [];
  const failing = (name: string, expression: string, isRetryable: boolean): ScheduledJob => ({
    ...cronJob(name, expression, clock, runs, async () => { throw new Error(`${name} failed`); }),
    retryDelays: [5 * 60_000], isRetryable: () => isRetryable,
  });
  const scheduler = new Scheduler([failing('partial', '*/10 * * * *', true), failing('receive', '0 11 * * *', false)], { clock, logger });
  scheduler.start();
  await clock.advanceTo('2026-03-01T11:01:00Z');
  const partials = runs.filter((run) => run.name === 'partial').map((run) => run.at.slice(11, 16));
  // Every ten minutes, a retry five minutes after each failure: 10:10, 10:15, 10:20, 10:25 …
  assert.deepEqual(partials, ['10:10', '10:15', '10:20', '10:25', '10:30', '10:35', '10:40', '10:45', '10:50', '10:55', '11:00']);
  assert.deepEqual(runs.filter((run) => run.name === 'receive').map((run) => run.at.slice(11, 16)), ['11:00']);
  assert.ok(!logger.lines.some((line) => /receive: retried/.test(line)), logger.lines.join('\n'));
  await scheduler.stop();
  assert.equal(clock.pendingTimers, 0);
});

test('the daemon retries a failed complete backup (server down at 03:30), but not a config error', async (t) => {
  const folder = mkdtempSync(join(tmpdir(), 'cpsbackup-daemon-'));
  t.after(() => rmSync(folder, { recursive: true, force: true }));
  for (const name of ['cert.pem', 'key.pem', 'ca.pem']) writeFileSync(join(folder, name), '');
  const config = nodeConfigFromText(join(folder, 'node.conf'), [
    'server = 127.0.0.1', 'ssl_cert = cert.pem', 'ssl_key = key.pem', 'ssl_ca = ca.pem', 'schedule_complete = 30 3 * * *',
  ].join('\n'));
  for (const [failure, expected] of [
    [new Error('14 UNAVAILABLE: No connection established'), ['03:30', '03:35', '03:50']],
    [new ConfigError(join(folder, 'storage.conf'), 3, 'unknown key "dump_comand"'), ['03:30']],
    // Regression (review): a receive over a lost chain link was retried hourly, reloading the complete backup each time.
    [new LostLinkError('kv', 'partial backup 2 says it dumped kv, but its dump is gone'), ['03:30']],
  ] as const) {
    const clock = new ManualClock(Date.parse('2026-03-10T03:00:00Z'));
    const runs: string[] = [];
    const stop = new AbortController();
    const daemon = runDaemon(config, {
      logger: recordingLogger(clock), clock, storage: () => undefined, stopSignal: stop.signal,
      listBackups: async () => [complete('2026-03-10T02:00:00Z')],
      runJob: async () => {
        runs.push(new Date(clock.now()).toISOString().slice(11, 16));
        if (runs.length <= 2 || failure instanceof ConfigError || failure instanceof LostLinkError) throw failure;
      },
    });
    await clock.advanceTo('2026-03-10T06:00:00Z');
    stop.abort();
    await daemon;
    assert.deepEqual(runs, expected, String(failure));
    assert.equal(clock.pendingTimers, 0);
  }
});

// Regression: one timer per fire time counted only time the host was awake; a 03:30 job armed at
// midnight on a VM suspended from 01:00 to 08:00 ran at 10:30, and a retry as late, with no warning.
test('after a suspend or a forward clock step, a due job starts within a minute of the wake, and says it is late', async () => {
  const clock = new ManualClock(Date.parse('2026-03-01T00:00:00Z'));
  const logger = recordingLogger(clock);
  const runs: { name: string; at: string }[] = [];
  let failuresLeft = 1;
  const nightly = { ...cronJob('complete', '30 3 * * *', clock, runs, async () => {
    if (failuresLeft-- > 0) throw new Error('connection refused');
  }), retryDelays: [5 * 60_000] };
  const scheduler = new Scheduler([nightly], { clock, logger });
  scheduler.start();
  await clock.advanceTo('2026-03-01T01:00:00Z');
  await clock.suspendFor(7 * 3_600_000);
  await clock.advanceTo('2026-03-01T08:01:30Z');
  // The wall clock is read at least once a minute: the minute timer armed at 01:00 fires at 08:01.
  assert.deepEqual(runs.map((run) => run.at), ['2026-03-01T08:01:00.000Z'], 'within a minute of the wake, not at 10:30');
  assert.ok(logger.lines.some((line) => line.includes('warn complete: 271 min late for its run of 2026-03-01T03:30:00.000Z')), logger.lines.join('\n'));
  // Its retry, due at 08:06, with the host asleep from 08:02 to 09:02: at 09:03, not 09:06.
  await clock.advanceTo('2026-03-01T08:02:00Z');
  await clock.suspendFor(3_600_000);
  await clock.advanceTo('2026-03-01T09:04:00Z');
  assert.deepEqual(runs.map((run) => run.at), ['2026-03-01T08:01:00.000Z', '2026-03-01T09:03:00.000Z']);
  // On time, no lateness line.
  await clock.advanceTo('2026-03-02T03:31:00Z');
  assert.equal(runs[2]?.at, '2026-03-02T03:30:00.000Z');
  assert.equal(logger.lines.filter((line) => / min late /.test(line)).length, 1, logger.lines.join('\n'));
  await scheduler.stop();
  assert.equal(clock.pendingTimers, 0);
});

// Regression: a daemon started before the network (or with client_can_list = 0) could not check for
// a missed complete run, warned once, and ran none until the next fire time: ~48 h between backups.
test('a missed-run check that cannot be made runs the complete backup anyway, retried as a failed run is', async (t) => {
  const folder = mkdtempSync(join(tmpdir(), 'cpsbackup-daemon-'));
  t.after(() => rmSync(folder, { recursive: true, force: true }));
  for (const name of ['cert.pem', 'key.pem', 'ca.pem']) writeFileSync(join(folder, name), '');
  const config = nodeConfigFromText(join(folder, 'node.conf'), [
    'server = 127.0.0.1', 'ssl_cert = cert.pem', 'ssl_key = key.pem', 'ssl_ca = ca.pem', 'schedule_complete = 30 3 * * *',
  ].join('\n'));
  for (const [refusal, warning] of [
    [new Error('14 UNAVAILABLE: getaddrinfo EAI_AGAIN backup.example'), /warn complete: cannot check for a missed run: 14 UNAVAILABLE: getaddrinfo EAI_AGAIN backup\.example; a complete backup runs now/],
    [new AuthError('client "node1" may not list backups, show, diff or find their files: client_can_list = 0 in its record on the server'),
      /warn complete: the server does not let this node list its backups \(client_can_list = 0 in its record there\)/],
  ] as const) {
    // Node off at 03:30, booted at 07:00; the network comes up a few minutes later.
    const clock = new ManualClock(Date.parse('2026-03-10T07:00:00Z'));
    const logger = recordingLogger(clock);
    const runs: string[] = [];
    let lists = 0;
    const stop = new AbortController();
    const daemon = runDaemon(config, {
      logger, clock, storage: () => undefined, stopSignal: stop.signal,
      listBackups: async () => {
        if (lists++ === 0) throw refusal;
        return [];
      },
      runJob: async () => {
        runs.push(new Date(clock.now()).toISOString().slice(11, 16));
        if (runs.length === 1) throw new Error('14 UNAVAILABLE: No connection established');
      },
    });
    await clock.advanceTo('2026-03-10T08:00:00Z');
    stop.abort();
    await daemon;
    assert.deepEqual(runs, ['07:00', '07:05'], `at start, then its first retry, not at 03:30 tomorrow: ${logger.lines.join('\n')}`);
    assert.ok(logger.lines.some((line) => warning.test(line)), logger.lines.join('\n'));
    assert.ok(logger.lines.some((line) => /complete: started \(missed run of 2026-03-10T03:30:00\.000Z\?: the check could not be made\)/.test(line)), logger.lines.join('\n'));
    assert.equal(clock.pendingTimers, 0);
  }
});
