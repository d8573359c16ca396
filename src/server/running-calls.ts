// The calls the server is running, and how a stop (SIGTERM, SIGINT) waits for them: new calls are refused
// as "the server is stopping", running ones end on their own within stop_timeout, or are cut, each named in the log.
import type * as grpc from '@grpc/grpc-js';
import { BusyError } from '../common/errors';
import type { Logger } from '../common/logger';
import { failStreamingCall, toServiceError } from './grpc-errors';

/**
 * After a cut, how long its status gets to reach the clients and end their calls before stop() returns, and the
 * server closes the connections of those still open (a restore whose client reads nothing never takes its status).
 */
const CUT_GRACE_MILLISECONDS = 5_000;
/** How long settle() waits for handlers to drop their work once their connections are gone (a backup seals and syncs its pack). */
const SETTLE_MILLISECONDS = 30_000;

interface Entry {
  /** For the log, read when it is written: an upload has its backup's number only once Begin arrived. */
  readonly describe: () => string;
  readonly startedAt: number;
  /** Ends the call for its client with `error`; the handler then sees its call cancelled and drops its work. */
  readonly cut: (error: BusyError) => void;
  readonly ended: Promise<void>;
  /** An upload whose commit is under way: the store commits it whatever its client is told, so it is never cut. */
  readonly isCommitting: () => boolean;
}

/** What a stop waited for and what it cut, each a description as the log gave it. */
export interface StopOutcome {
  readonly waitedFor: readonly string[];
  readonly cut: readonly string[];
}

/** Set on a call the stop cut: its handler says so instead of "the client disconnected". */
const CUT_REASON = Symbol('cut by the stop');

/** Set by the upload handler once its Commit is handled: from then on the store commits whatever the client hears. */
const COMMITTING = Symbol('committing');

/**
 * Marks an upload whose commit has begun. A stop then waits for it rather than cut it: a cut said "a backup is
 * not committed" to a client whose backup the store then committed (found by review, 8 runs in 9 with a slow sync).
 */
export function markCommitting(call: object): void {
  (call as { [COMMITTING]?: boolean })[COMMITTING] = true;
}

/** The reason a stop cut `call` for, or undefined when it did not. */
export function cutReasonOf(call: object): string | undefined {
  return (call as { [CUT_REASON]?: string })[CUT_REASON];
}

export interface StoppingState {
  /** When the stop began (ms since the epoch). */
  readonly since: number;
  readonly reason: string;
  readonly runningCalls: number;
  /** The wait is over (stop_timeout, or a second signal): the calls left are being cut. */
  readonly isCutting: boolean;
}

export class RunningCalls {
  private readonly entries = new Set<Entry>();
  private stopReason: string | undefined;
  private stopStartedAt = 0;
  /** The wait is over (stop_timeout, or a second signal): the calls left are being cut. */
  private isCutting = false;
  private cutEarly: (() => void) | undefined;
  private isCutRequested = false;

  constructor(private readonly logger: Logger) {}

  get isStopping(): boolean {
    return this.stopReason !== undefined;
  }

  /** For the status page: since when and why the server stops, and how many calls it still waits for; undefined while it runs. */
  stopping(): StoppingState | undefined {
    if (this.stopReason === undefined) return undefined;
    return { since: this.stopStartedAt, reason: this.stopReason, runningCalls: this.entries.size, isCutting: this.isCutting };
  }

  /** A call whose handler returns a promise that settles when the call's work is over (streaming calls). */
  runStreaming(call: object & { emit(event: 'error', error: grpc.ServiceError): boolean }, describe: () => string, handler: () => Promise<void>): void {
    if (this.refusesNew((error) => failStreamingCall(call, error, this.logger, describe()))) return;
    const cut = (error: BusyError): void => {
      (call as { [CUT_REASON]?: string })[CUT_REASON] = error.message;
      failStreamingCall(call, error, this.logger, describe());
    };
    this.add(describe, cut, handler(), () => (call as { [COMMITTING]?: boolean })[COMMITTING] === true);
  }

  /** A call that ends when its handler answers through `callback` (unary calls). */
  runUnary<T>(callback: grpc.sendUnaryData<T>, describe: () => string, handler: (callback: grpc.sendUnaryData<T>) => void): void {
    if (this.refusesNew((error) => callback(toServiceError(error, this.logger, describe())))) return;
    let isAnswered = false;
    let answered = (): void => undefined;
    const ended = new Promise<void>((resolve) => { answered = resolve; });
    const answerOnce: grpc.sendUnaryData<T> = (error, value, trailer, flags) => {
      if (isAnswered) return;
      isAnswered = true;
      answered();
      callback(error, value, trailer, flags);
    };
    this.add(describe, (error) => answerOnce(toServiceError(error, this.logger, describe())), Promise.resolve().then(() => handler(answerOnce)).then(() => ended));
  }

  /**
   * Refuses new calls from now on and waits for the running ones, up to `timeoutMilliseconds`, or until
   * cutNow(); then cuts those left, each named in the log, and gives them CUT_GRACE_MILLISECONDS to end.
   * Logs each call it waits for, each that ends meanwhile, and each it cuts. A cut call may still run when
   * this returns: close its connection, then settle().
   */
  async stop(reason: string, timeoutMilliseconds: number, timeoutSetting: string): Promise<StopOutcome> {
    this.stopReason = reason;
    this.stopStartedAt = Date.now();
    const waitedFor = [...this.entries].map((entry) => entry.describe());
    if (waitedFor.length === 0) return { waitedFor, cut: [] };
    this.logger.info(`stopping: waiting for ${waitedFor.length} running call${waitedFor.length === 1 ? '' : 's'} to end (at most ${timeoutSetting}): ${waitedFor.join('; ')}`);
    const isAllEnded = await this.allEnded(timeoutMilliseconds, (cutEarly) => {
      this.cutEarly = cutEarly;
      if (this.isCutRequested) cutEarly();
    });
    if (isAllEnded) return { waitedFor, cut: [] };
    this.isCutting = true;
    const why = this.isCutRequested ? 'it was asked twice to stop' : `${timeoutSetting} passed since it was asked to stop`;
    const committing = [...this.entries].filter((entry) => entry.isCommitting());
    for (const entry of committing) this.logger.info(`stopping: ${why}, but ${entry.describe()} is committing: waiting for its commit to end`);
    const left = [...this.entries].filter((entry) => !entry.isCommitting());
    const cut = left.map((entry) => entry.describe());
    for (const entry of left) {
      const seconds = Math.round((Date.now() - entry.startedAt) / 1000);
      this.logger.warn(`stopping: ${why}: cutting ${entry.describe()} (running for ${seconds} s); it does not finish`);
      entry.cut(new BusyError(`the server stopped before this call finished (${why}); `
        + 'a backup is not committed, a restore not complete: try again once the server is back'));
    }
    await this.allEnded(CUT_GRACE_MILLISECONDS);
    // A commit ends on its own (a pack's sync, the catalog's transaction), and its client then hears that it is committed.
    if (committing.length > 0) await this.allEnded(SETTLE_MILLISECONDS);
    return { waitedFor, cut };
  }

  /**
   * Waits, after the connections are closed, for the handlers still running to drop their work, at most
   * SETTLE_MILLISECONDS: the store must not close under them. Returns (and logs) those that did not end.
   */
  async settle(): Promise<string[]> {
    await this.allEnded(SETTLE_MILLISECONDS);
    const stillRunning = [...this.entries].map((entry) => entry.describe());
    for (const description of stillRunning) this.logger.error(`stopping: ${description} did not end within ${SETTLE_MILLISECONDS / 1000} s of its connection's close; closing the store anyway`);
    return stillRunning;
  }

  /** A second SIGTERM or SIGINT: cut the running calls now instead of at the timeout. */
  cutNow(): void {
    this.isCutRequested = true;
    this.cutEarly?.();
  }

  /**
   * True when every call running now ended within `milliseconds`, false at the limit or once the function
   * given to `onCutEarly` is called. The timer is referenced: a handler that awaits without a handle of its own
   * must not let the event loop empty (exit-with.ts would take that for a bug).
   */
  private async allEnded(milliseconds: number, onCutEarly: (cutEarly: () => void) => void = () => undefined): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        Promise.all([...this.entries].map((entry) => entry.ended)).then(() => true),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), milliseconds);
          onCutEarly(() => resolve(false));
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  private refusesNew(refuse: (error: BusyError) => void): boolean {
    if (this.stopReason === undefined) return false;
    // Said to the client so that it tries again later instead of taking the server for gone or broken.
    // toServiceError logs the refusal with the call's description.
    refuse(new BusyError(`the server is stopping (${this.stopReason}) and takes no new calls: try again once it is back`));
    return true;
  }

  private add(describe: () => string, cut: (error: BusyError) => void, work: Promise<void>, isCommitting: () => boolean = () => false): void {
    const ended = work.then(() => undefined, (error: unknown) => {
      // Handlers answer their own errors; one that escapes is a bug, not a reason to hang the stop.
      this.logger.error(`${describe()}: ${(error as Error)?.stack ?? String(error)}`);
    }).finally(() => {
      this.entries.delete(entry);
      if (this.stopReason !== undefined) this.logger.info(`stopping: ${describe()} ended; ${this.entries.size} call${this.entries.size === 1 ? '' : 's'} still running`);
    });
    const entry: Entry = { describe, startedAt: Date.now(), cut, ended, isCommitting };
    this.entries.add(entry);
  }
}
