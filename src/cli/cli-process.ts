// What the cpsbackup process does on Ctrl-C and on a stdout or stderr whose reader went away, by mode:
// main() names the mode once the options are read; the entry point installs the handlers once.
import { stopRunningProcesses } from '../client/sources/child-process';
import { EXIT } from './exit-codes';
import { surviveClosedOutput } from './closed-output';

/**
 * listing: -l, -s, --diff, --find, whose output is the whole work. backup: -e. restore: -i (and a
 * receiver's --if-new). change: -d, --protect, --unprotect. daemon: set just before the daemon installs
 * its own signal handlers (SIGINT and SIGTERM stop it after the running job).
 */
export type CliMode = 'listing' | 'backup' | 'restore' | 'change' | 'daemon';

/** What the interrupted command may have left done, in one line. */
function interruptedLine(mode: CliMode | undefined, isCommitSent: boolean, stoppedProcesses: number): string {
  switch (mode) {
    case 'backup':
      // Once the commit is on its way the server may commit whatever the client does next.
      return isCommitSent
        ? 'interrupted after the commit was sent: the backup may have been committed; check with cpsbackup -l'
        : 'interrupted: nothing was committed';
    case 'restore':
      return `interrupted: the restore stopped${stoppedProcesses > 0
        ? ` (${stoppedProcesses} loader or script process${stoppedProcesses === 1 ? '' : 'es'} sent SIGTERM)` : ''}; `
        + 'what was restored or loaded before stays';
    case 'change':
      return 'interrupted: the request may have reached the server; check with cpsbackup -l';
    case 'listing':
      return 'interrupted';
    default:
      return 'interrupted before anything was started';
  }
}

export class CliProcess {
  private mode: CliMode | undefined;
  private isCommitSent = false;
  /** Loader and script process groups the first Ctrl-C of a restore sent SIGTERM: the interrupted line counts them. */
  private stoppedProcesses = 0;
  private readonly interruption = new AbortController();

  /**
   * Aborted by the first Ctrl-C of a backup (it stops at its next entry and tells the server to drop it)
   * or of a restore (it stops at its next entry and lists what it kept or failed so far).
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

  /** The line main() prints for a backup or a restore that ended because of the first Ctrl-C. */
  interruptedMessage(): string {
    return interruptedLine(this.mode, this.isCommitSent, this.stoppedProcesses);
  }

  /**
   * A reader that stops reading a listing (`cpsbackup -s 3 | head`) ends it: exit 0, its choice. Any other
   * command goes on with its work (the rest of a restore chain and its loads, the post script, the daemon's
   * jobs) and ends with the exit code that work earns: its lines to a closed stream are lost, nothing else.
   */
  install(): void {
    process.stdout.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
      if (this.mode === undefined || this.mode === 'listing') process.exit(EXIT.ok);
    });
    // Without a listener a closed stderr (`2>&1 | head`) would end any command with an uncaught error.
    surviveClosedOutput([process.stderr]);
    process.on('SIGINT', () => this.onInterrupt());
  }

  private onInterrupt(): void {
    // The daemon's own handler stops it after the running job (a second signal aborts that job).
    if (this.mode === 'daemon') return;
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
    // A second Ctrl-C, or any other command: at once. Loaders and scripts run as process groups of their
    // own, which Ctrl-C does not reach: one left running would go on after we said we stopped.
    // A group the first Ctrl-C of a restore stopped and that is still ending is signalled again, counted once.
    const stopped = Math.max(stopRunningProcesses(), this.stoppedProcesses);
    process.stderr.write(`${interruptedLine(this.mode, this.isCommitSent, stopped)}\n`);
    process.exit(EXIT.interrupted);
  }
}
