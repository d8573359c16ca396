// Runs one dumper or loader as its own process group with a deadline and a bounded stderr tail.
// A group, so a timeout or abort also stops what `sh -c` started (pg_dump | gzip, mongodump).
import { spawn } from 'node:child_process';
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
  /** The child's stdin when started with stdin 'pipe'; the caller writes it and ends it. */
  readonly stdin: NodeJS.WritableStream | undefined;
  /** Stops the whole process group: SIGTERM, then SIGKILL after a grace period. Idempotent. */
  kill(): void;
}

export interface ProcessOptions {
  readonly stdin: 'ignore' | 'pipe' | number;
  /** 'capture' keeps the first bytes, 'collect' all (a query's answer, up to 64 MiB), 'tail' the last ones. */
  readonly stdout: 'ignore' | 'capture' | 'collect' | 'tail' | number;
  readonly timeoutSeconds: number;
  readonly env?: NodeJS.ProcessEnv;
}

const KILL_GRACE_MILLISECONDS = 5000;
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
  if (outcome.isKilled) return 'was stopped (backup aborted)';
  if (outcome.signal !== null) return `killed by ${outcome.signal}`;
  if (outcome.code === 0 && outcome.leftovers !== undefined) return `exited, but ${outcome.leftovers}`;
  return `exited with code ${outcome.code}`;
}

export function startProcess(file: string, args: readonly string[], options: ProcessOptions): RunningProcess {
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
  const child = spawn(file, args, {
    stdio: [options.stdin, typeof options.stdout === 'number' || options.stdout === 'ignore' ? options.stdout : 'pipe', 'pipe'],
    detached: true,
    env: options.env ?? process.env,
  });
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
  const deadline = setTimeout(() => {
    isTimedOut = true;
    stop();
  }, options.timeoutSeconds * 1000);
  child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
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
      finish(null, null, error.message);
    });
    child.once('exit', () => {
      hasExited = true;
      // Leftovers of the group (a backgrounded writer) would hold the FIFO open and the reader would
      // never see EOF; killed, what they wrote is cut short, so their command has not succeeded.
      // A daemon a command starts (gpg-agent) leaves the group with setsid and is not seen here.
      if (signalGroup(0) && !isKilled && !isTimedOut) {
        leftovers = 'processes it started were still running (a command sent to the background without a wait?); they were killed';
      }
      signalGroup('SIGKILL');
    });
    child.once('close', (code, signal) => finish(code, signal));
  });
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
  };
}
