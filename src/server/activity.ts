// What the server is doing right now and how each client's last backup ended, in memory.
// Feeds max_children, the one-backup-per-client rule and the status port.
import { BusyError } from '../common/errors';
import { PerClientInterval } from './per-client-interval';

export interface RunningUpload {
  readonly clientName: string;
  readonly backupNumber: number;
  readonly startedAt: number;
  files: number;
  bytes: number;
  newBytes: number;
}

export interface UploadOutcome {
  readonly clientName: string;
  readonly backupNumber: number;
  readonly isSuccess: boolean;
  readonly at: number;
  readonly reason?: string;
  /** The backup's kind when it was known (not for a refusal before Begin). */
  readonly kind?: 'complete' | 'partial';
}

export class Activity {
  private readonly running = new Map<string, RunningUpload>();
  private readonly lastOutcome = new Map<string, UploadOutcome>();
  /** Kept apart from lastOutcome: the status port shows the last failure even after a later success. */
  private readonly lastFailure = new Map<string, UploadOutcome>();
  private readonly listeners: ((outcome: UploadOutcome) => void)[] = [];
  /** ReportFailure's log line per client: a client reporting in a loop logs once per interval, not 4 KB a call. */
  readonly failureReportLog = new PerClientInterval(10 * 60_000);

  constructor(
    private readonly maxChildren: number,
    /** server.conf's network_timeout: how soon a backup whose client was killed is dropped, for the refusal's message. */
    private readonly networkTimeoutSeconds: number,
  ) {}

  /** Claims a slot for a client's backup; refuses a second one of the same client or past max_children. */
  claim(clientName: string): void {
    const running = this.running.get(clientName);
    if (running !== undefined) {
      const which = running.backupNumber === 0 ? '' : `backup ${running.backupNumber}, `;
      const seconds = Math.max(0, Math.round((Date.now() - running.startedAt) / 1000));
      // Said because the usual cause is a client killed a moment ago: the server's pings find it soon (backup-server.ts).
      throw new BusyError(`a backup of client "${clientName}" is already running (${which}started ${seconds} s ago); `
        + `one whose client was killed or cut off is dropped within network_timeout (${this.networkTimeoutSeconds} s)`);
    }
    if (this.running.size >= this.maxChildren) {
      // How many, and the key that limits them, are the server's business: its log has them.
      throw new BusyError('server busy: too many backups running; try again later',
        `${this.running.size} backups running, max_children = ${this.maxChildren}`);
    }
    this.running.set(clientName, { clientName, backupNumber: 0, startedAt: Date.now(), files: 0, bytes: 0, newBytes: 0 });
  }

  /**
   * claim(), and a refusal recorded as the client's failed attempt, except "already running": then the
   * client's own backup holds the slot and reports its own outcome (a daemon retry meeting it, or a
   * client opening Uploads in a loop, must not notify a failure for a backup that then succeeds).
   */
  claimOrRecordRefusal(clientName: string, reasonOf: (refusal: unknown) => string): void {
    const isOwnRunning = this.running.has(clientName);
    try {
      this.claim(clientName);
    } catch (refusal) {
      if (!isOwnRunning) this.record({ clientName, backupNumber: 0, isSuccess: false, at: Date.now(), reason: reasonOf(refusal) });
      throw refusal;
    }
  }

  progress(clientName: string): RunningUpload | undefined {
    return this.running.get(clientName);
  }

  finish(outcome: UploadOutcome): void {
    this.running.delete(outcome.clientName);
    this.record(outcome);
  }

  /**
   * An attempt that ended without holding a slot here: refused before claiming one (max_children;
   * not "already running", see claimOrRecordRefusal), or failed on the client before its Upload arrived (ReportFailure). A backup of
   * the same client that is running keeps its slot.
   */
  record(outcome: UploadOutcome): void {
    this.lastOutcome.set(outcome.clientName, outcome);
    if (!outcome.isSuccess) this.lastFailure.set(outcome.clientName, outcome);
    // A success ends a run of failures: the next failure is news, logged with its reason, not held back.
    else this.failureReportLog.reset(outcome.clientName);
    for (const listener of [...this.listeners]) listener(outcome);
  }

  release(clientName: string): void {
    this.running.delete(clientName);
  }

  runningUploads(): RunningUpload[] {
    return [...this.running.values()];
  }

  outcomeOf(clientName: string): UploadOutcome | undefined {
    return this.lastOutcome.get(clientName);
  }

  failureOf(clientName: string): UploadOutcome | undefined {
    return this.lastFailure.get(clientName);
  }

  /** Listeners run synchronously inside finish(); returns a function that removes the listener. */
  onOutcome(listener: (outcome: UploadOutcome) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const index = this.listeners.indexOf(listener);
      if (index >= 0) this.listeners.splice(index, 1);
    };
  }
}
