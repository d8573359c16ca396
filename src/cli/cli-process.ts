// What the cpsbackup process does on Ctrl-C (SIGINT), SIGTERM and SIGHUP and on a stdout or stderr whose reader
// went away, by mode: main() names the mode once the options are read; the entry point installs the handlers once.
import { stopRunningProcesses } from '../client/sources/child-process';
import { EXIT, signalExitCode } from './exit-codes';
import { isOutputGone, surviveClosedOutput } from './closed-output';

/**
 * The signals that stop a command as Ctrl-C does: `kill`, `timeout`, systemd's stop and TimeoutStartSec send
 * SIGTERM, a dropped ssh session SIGHUP. Their default action killed the client on the spot: no post script,
 * a restore's temporary file left in the user's folder, the folders it made left 0700.
 */
export const INTERRUPTING_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type InterruptingSignal = typeof INTERRUPTING_SIGNALS[number];

/**
 * listing: -l, -s, --diff, --find, whose output is the whole work. backup: -e. restore: -i (and a
 * receiver's --if-new). change: -d, --protect, --unprotect. daemon: set just before the daemon installs
 * its own signal handlers (SIGINT and SIGTERM stop it after the running job).
 */
export type CliMode = 'listing' | 'backup' | 'restore' | 'change' | 'daemon';

/**
 * What the interrupted command may have left done, in one line. Ctrl-C's is said as it always was; another
 * signal is named ("interrupted by SIGTERM: …"), as its exit code names it.
 */
function interruptedLine(mode: CliMode | undefined, signal: InterruptingSignal, isCommitSent: boolean, stoppedProcesses: number): string {
  const interrupted = signal === 'SIGINT' ? 'interrupted' : `interrupted by ${signal}`;
  switch (mode) {
    case 'backup':
      // Once the commit is on its way the server may commit whatever the client does next.
      return isCommitSent
        ? `${interrupted} after the commit was sent: the backup may have been committed; check with cpsbackup -l`
        : `${interrupted}: nothing was committed`;
    case 'restore':
      return `${interrupted}: the restore stopped${stoppedProcesses > 0
        ? ` (${stoppedProcesses} loader or script process${stoppedProcesses === 1 ? '' : 'es'} sent SIGTERM)` : ''}; `
        + 'what was restored or loaded before stays';
    case 'change':
      return `${interrupted}: the request may have reached the server; check with cpsbackup -l`;
    case 'listing':
      return interrupted;
    default:
      return `${interrupted} before anything was started`;
  }
}

export class CliProcess {
  private mode: CliMode | undefined;
  private isCommitSent = false;
  /** Loader and script process groups the first Ctrl-C of a restore sent SIGTERM: the interrupted line counts them. */
  private stoppedProcesses = 0;
  /** The first of SIGINT, SIGTERM, SIGHUP that came: the line and the exit code name it, whatever came after. */
  private firstSignal: InterruptingSignal | undefined;
  private readonly interruption = new AbortController();

  /**
   * Aborted by the first Ctrl-C, SIGTERM or SIGHUP of a backup (it stops at its next entry and tells the
   * server to drop it) or of a restore (it stops at its next entry and lists what it kept or failed so far).
   */
  get signal(): AbortSignal {
    return this.interruption.signal;
  }

  setMode(mode: CliMode): void {
    this.mode = mode;
  }

  /** Called just before the backup's commit message goes to the server. */
  commitSent(): void {
    this.isCommitSent = true;
  }

  /**
   * Said after a backup's failure once its commit was on its way (the connection dropped, the server
   * froze): the server may have committed it, and without a word the operator takes it for lost.
   */
  failureNote(): string | undefined {
    return this.mode === 'backup' && this.isCommitSent
      ? 'the commit had been sent when this happened: the backup may have been committed; check with cpsbackup -l' : undefined;
  }

  /** The line main() prints for a backup or a restore that ended because of the first Ctrl-C, SIGTERM or SIGHUP. */
  interruptedMessage(): string {
    return interruptedLine(this.mode, this.firstSignal ?? 'SIGINT', this.isCommitSent, this.stoppedProcesses);
  }

  /** Its exit code: 130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP (128 + the signal's number, the shell's way). */
  interruptedExitCode(): number {
    return signalExitCode(this.firstSignal ?? 'SIGINT');
  }

  /**
   * A reader that stops reading a listing (`cpsbackup -s 3 | head`) ends it: exit 0, its choice. Any other
   * command goes on with its work (the rest of a restore chain and its loads, the post script, the daemon's
   * jobs) and ends with the exit code that work earns: its lines to a closed stream are lost, nothing else.
   */
  install(): void {
    process.stdout.on('error', (error: NodeJS.ErrnoException) => {
      if (!isOutputGone(error, process.stdout)) throw error;
      // A terminal that hung up is no reader's choice: its SIGHUP says how a listing ends.
      if (error.code === 'EPIPE' && (this.mode === undefined || this.mode === 'listing')) process.exit(EXIT.ok);
    });
    // Without a listener a closed stderr (`2>&1 | head`) would end any command with an uncaught error.
    surviveClosedOutput([process.stderr]);
    for (const signal of INTERRUPTING_SIGNALS) process.on(signal, () => this.onInterrupt(signal));
  }

  private onInterrupt(signal: InterruptingSignal): void {
    // The daemon's own handlers stop it after the running job (a second signal aborts that job) and ignore SIGHUP.
    if (this.mode === 'daemon') return;
    this.firstSignal ??= signal;
    if (this.mode === 'backup' && !this.interruption.signal.aborted) {
      this.interruption.abort();
      return;
    }
    if (this.mode === 'restore' && !this.interruption.signal.aborted) {
      // A loader or a script knows nothing of the abort and may run for hours: stopped now, its load is
      // reported failed with the restore's gaps. The restore itself stops at its next entry.
      this.stoppedProcesses = stopRunningProcesses();
      this.interruption.abort();
      return;
    }
    // A second signal (any of the three), or any other command: at once. Loaders, dumpers and scripts run as
    // process groups of their own, which Ctrl-C (and a signal sent to this process alone) does not reach: one
    // left running would go on after we said we stopped. A group the first signal of a restore stopped and that
    // is still ending is signalled again, counted once.
    const stopped = Math.max(stopRunningProcesses(), this.stoppedProcesses);
    process.stderr.write(`${interruptedLine(this.mode, this.firstSignal, this.isCommitSent, stopped)}\n`);
    process.exit(signalExitCode(this.firstSignal));
  }
}
