// Runs one dumper or loader as its own process group with a deadline and a bounded stderr tail.
// A group, so a timeout or abort also stops what `sh -c` started (pg_dump | gzip, mongodump).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { OutputTail } from './output-tail';

export interface ProcessOutcome {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly isTimedOut: boolean;
  readonly isKilled: boolean;
  /** Set when the process could not be started at all. */
  readonly startError?: string;
  /** Set when a 'collect' output grew past its limit and the process was stopped. */
  readonly overflow?: string;
  /**
   * Set when processes it started were still running when it exited (`pg_dump db > out &` without a
   * `wait`): they are killed then, so whatever they were writing may be cut short.
   */
  readonly leftovers?: string;
  readonly stderrTail: string;
  /** stdout 'capture': its first bytes (a version label is the first line); 'collect': all of it. */
  readonly stdoutHead: string;
  /** Only when stdout was 'tail': its last bytes (a loader's progress markers). */
  readonly stdoutTail: string;
}

export interface RunningProcess {
  readonly outcome: Promise<ProcessOutcome>;
  /** The child's stdin when started with stdin 'pipe' (undefined if it could not start); the caller writes it and ends it. */
  readonly stdin: NodeJS.WritableStream | undefined;
  /** Stops the whole process group: SIGTERM, then SIGKILL after a grace period. Idempotent. */
  kill(): void;
  /** With deadlineStartsOnRead: starts the timeout now (once; later calls do nothing). */
  startDeadline(): void;
}

export interface ProcessOptions {
  readonly stdin: 'ignore' | 'pipe' | number;
  /** 'capture' keeps the first bytes, 'collect' all (a query's answer, up to 64 MiB), 'tail' the last ones. */
  readonly stdout: 'ignore' | 'capture' | 'collect' | 'tail' | number;
  readonly timeoutSeconds: number;
  readonly env?: NodeJS.ProcessEnv;
  /**
   * Its work is what it writes (a dump into a FIFO, a load): processes of its group still running a
   * moment after it exits are killed then (they would hold the FIFO open), which cuts that work
   * short, so they fail it. Otherwise (a hook, a query) they are killed as before, and it stands.
   */
  readonly failsOnLeftovers?: boolean;
  /**
   * The timeout runs from startDeadline() (when its output starts being read), not from the start: dumpers
   * start together and are read one after another, and one waiting on a full pipe while a long dump before it
   * was read timed out (red team: a 2 h pg_dump failed every backup's next source on its default 3600 s).
   */
  readonly deadlineStartsOnRead?: boolean;
  /** Sees all of stderr as it comes (a load's warnings: load-warnings.ts), besides the tail kept for a failure. */
  readonly onStderr?: (chunk: Buffer) => void;
}

const KILL_GRACE_MILLISECONDS = 5000;
/**
 * How long processes of the group may take to end after the command itself: OpenSSH signals its
 * ProxyCommand (ssh -J) at exit without waiting for it, and a pipeline's member can be just exiting.
 */
const LEFTOVER_GRACE_MILLISECONDS = 2000;
const LEFTOVER_POLL_MILLISECONDS = 50;
const LEFTOVER_SCAN_MILLISECONDS = 250;
const HEAD_BYTES = 4096;
const COLLECT_BYTES = 64 * 1024 * 1024;

export function isSuccess(outcome: ProcessOutcome): boolean {
  return outcome.code === 0 && !outcome.isTimedOut && !outcome.isKilled && outcome.startError === undefined && outcome.overflow === undefined
    && outcome.leftovers === undefined;
}

/** One line a person can read: "exited with code 1", "killed by SIGTERM", "timed out after 5 s". */
export function describeFailure(outcome: ProcessOutcome, timeoutSeconds: number): string {
  if (outcome.startError !== undefined) return `could not start: ${outcome.startError}`;
  if (outcome.isTimedOut) return `timed out after ${timeoutSeconds} s and was killed`;
  if (outcome.overflow !== undefined) return `was stopped: ${outcome.overflow}`;
  // A dumper of an aborted backup, a loader or script of an interrupted restore, a job the daemon aborted.
  if (outcome.isKilled) return 'was stopped (its backup or restore was aborted)';
  if (outcome.signal !== null) return `killed by ${outcome.signal}`;
  if (outcome.code === 0 && outcome.leftovers !== undefined) return `exited, but ${outcome.leftovers}`;
  return `exited with code ${outcome.code}`;
}

/**
 * The process groups started here and still running, each by its stop function. Process-wide on
 * purpose: each runs as a group of its own (so a timeout stops all of it), which the terminal's
 * Ctrl-C does not reach, and only the process's signal handler knows it was interrupted.
 */
const runningGroups = new Set<() => void>();

/** Sends SIGTERM to every group still running (a loader writing into a database, a hook); returns how many. */
export function stopRunningProcesses(): number {
  const count = runningGroups.size;
  for (const stop of [...runningGroups]) stop();
  return count;
}

/** A process spawn() refused outright: its outcome says why, as for one that failed to start. */
function notStarted(reason: string): RunningProcess {
  return {
    outcome: Promise.resolve({ code: null, signal: null, isTimedOut: false, isKilled: false, startError: reason, stderrTail: '', stdoutHead: '', stdoutTail: '' }),
    stdin: undefined,
    kill: () => undefined,
    startDeadline: () => undefined,
  };
}

export function startProcess(file: string, args: readonly string[], options: ProcessOptions): RunningProcess {
  let child: ChildProcess;
  try {
    child = spawn(file, args, {
      stdio: [options.stdin, typeof options.stdout === 'number' || options.stdout === 'ignore' ? options.stdout : 'pipe', 'pipe'],
      detached: true,
      env: options.env ?? process.env,
    });
  } catch (error) {
    // spawn throws, instead of emitting 'error', for what it refuses to pass (a NUL byte in an argument
    // or an environment value): thrown from here it skipped the caller's failure path (a post script
    // never ran and the backup's own error was lost to an "internal error").
    return notStarted((error as Error).message);
  }
  return watchProcess(child, options);
}

function watchProcess(child: ChildProcess, options: ProcessOptions): RunningProcess {
  const stderr = new OutputTail();
  const stdoutTail = new OutputTail();
  const stdoutChunks: Buffer[] = [];
  let stdoutSize = 0;
  let isTimedOut = false;
  let isKilled = false;
  let hasExited = false;
  let overflow: string | undefined;
  let leftovers: string | undefined;
  let graceTimer: NodeJS.Timeout | undefined;
  /** Whether the signal reached anyone: false when the whole group is gone (ESRCH). Signal 0 only asks. */
  const signalGroup = (signal: NodeJS.Signals | 0): boolean => {
    if (child.pid === undefined) return false;
    try {
      process.kill(-child.pid, signal);
      return true;
    } catch {
      // ESRCH: the group is already gone, which is what we wanted.
      return false;
    }
  };
  const stop = (): void => {
    if (hasExited || graceTimer !== undefined) return;
    signalGroup('SIGTERM');
    graceTimer = setTimeout(() => signalGroup('SIGKILL'), KILL_GRACE_MILLISECONDS);
  };
  const stopOnInterrupt = (): void => {
    isKilled = true;
    signalGroup('SIGTERM');
  };
  if (child.pid !== undefined) runningGroups.add(stopOnInterrupt);
  let deadline: NodeJS.Timeout | undefined;
  const startDeadline = (): void => {
    if (deadline !== undefined || hasExited) return;
    deadline = setTimeout(() => {
      isTimedOut = true;
      stop();
    }, options.timeoutSeconds * 1000);
  };
  if (options.deadlineStartsOnRead !== true) startDeadline();
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr.push(chunk);
    options.onStderr?.(chunk);
  });
  child.stdout?.on('data', (chunk: Buffer) => {
    if (options.stdout === 'tail') {
      stdoutTail.push(chunk);
      return;
    }
    const limit = options.stdout === 'collect' ? COLLECT_BYTES : HEAD_BYTES;
    if (stdoutSize >= limit) {
      // A query answer cut short would be read as a smaller one: fail the process instead.
      if (options.stdout === 'collect' && overflow === undefined) {
        overflow = `its output passed ${COLLECT_BYTES} bytes`;
        isKilled = true;
        stop();
      }
      return;
    }
    stdoutChunks.push(chunk);
    stdoutSize += chunk.length;
  });
  const outcome = new Promise<ProcessOutcome>((resolve) => {
    const finish = (code: number | null, signal: NodeJS.Signals | null, startError?: string): void => {
      clearTimeout(deadline);
      if (graceTimer !== undefined) clearTimeout(graceTimer);
      resolve({ code, signal, isTimedOut, isKilled: isKilled && overflow === undefined, startError, overflow,
        ...(leftovers === undefined ? {} : { leftovers }), stderrTail: stderr.text(),
        stdoutHead: Buffer.concat(stdoutChunks).subarray(0, options.stdout === 'collect' ? COLLECT_BYTES : HEAD_BYTES).toString('utf8'),
        stdoutTail: stdoutTail.text() });
    };
    child.once('error', (error) => {
      hasExited = true;
      runningGroups.delete(stopOnInterrupt);
      finish(null, null, error.message);
    });
    let groupEnded: Promise<void> = Promise.resolve();
    child.once('exit', () => {
      hasExited = true;
      // Still registered until endGroup has killed what is left: a Ctrl-C in the grace period stops it too.
      groupEnded = endGroup().finally(() => runningGroups.delete(stopOnInterrupt));
    });
    // Leftovers may hold none of our pipes (`… 2>/dev/null &`): the outcome waits for the group's end too.
    child.once('close', (code, signal) => void groupEnded.then(() => finish(code, signal)));
  });
  /**
   * Leftovers of the group (a backgrounded writer) would hold the FIFO open and the reader would never
   * see EOF, so they are killed. With failsOnLeftovers, live ones still there after a grace period
   * fail the command: what they wrote is cut short. Zombies are not counted (nobody may reap them:
   * node as PID 1 in a container). A daemon a command starts (ssh -f, gpg-agent) leaves the group with
   * setsid and is neither seen nor killed.
   */
  const endGroup = async (): Promise<void> => {
    if (options.failsOnLeftovers === true && child.pid !== undefined && !isKilled && !isTimedOut) {
      const deadline = Date.now() + LEFTOVER_GRACE_MILLISECONDS;
      // kill(0) is cheap; reading every /proc/*/stat (thousands on a database host) is done at most every 250 ms.
      let nextScan = 0;
      while (signalGroup(0)) {
        if (Date.now() >= nextScan) {
          if (!await hasLiveMember(child.pid)) break;
          nextScan = Date.now() + LEFTOVER_SCAN_MILLISECONDS;
        }
        if (Date.now() >= deadline) {
          leftovers = 'processes it started were still running (a command sent to the background without a wait?); they were killed';
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, LEFTOVER_POLL_MILLISECONDS));
      }
    }
    signalGroup('SIGKILL');
  };
  // A child that exits early leaves its stdin broken (EPIPE): never an uncaught error, the outcome tells why.
  child.stdin?.on('error', () => undefined);
  return {
    outcome,
    stdin: child.stdin ?? undefined,
    kill: () => {
      if (hasExited) return;
      isKilled = true;
      stop();
    },
    startDeadline,
  };
}

/** Whether a process of the group is alive (not a zombie), by /proc; a process that ends while it is read is not. */
async function hasLiveMember(groupId: number): Promise<boolean> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return true; // no /proc: the kill(0) that found the group is all there is to go on
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = await readFile(`/proc/${entry}/stat`, 'latin1');
    } catch {
      continue;
    }
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so fields count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === groupId && fields[0] !== 'Z' && fields[0] !== 'X') return true;
  }
  return false;
}
