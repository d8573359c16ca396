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
  readonly stderrTail: string;
  /** Only when stdout was 'capture': its first bytes (a version label is the first line). */
  readonly stdoutHead: string;
}

export interface RunningProcess {
  readonly outcome: Promise<ProcessOutcome>;
  /** Stops the whole process group: SIGTERM, then SIGKILL after a grace period. Idempotent. */
  kill(): void;
}

export interface ProcessOptions {
  readonly stdin: 'ignore' | number;
  readonly stdout: 'ignore' | 'capture' | number;
  readonly timeoutSeconds: number;
  readonly env?: NodeJS.ProcessEnv;
}

const KILL_GRACE_MILLISECONDS = 5000;
const HEAD_BYTES = 4096;

export function isSuccess(outcome: ProcessOutcome): boolean {
  return outcome.code === 0 && !outcome.isTimedOut && !outcome.isKilled && outcome.startError === undefined;
}

/** One line a person can read: "exited with code 1", "killed by SIGTERM", "timed out after 5 s". */
export function describeFailure(outcome: ProcessOutcome, timeoutSeconds: number): string {
  if (outcome.startError !== undefined) return `could not start: ${outcome.startError}`;
  if (outcome.isTimedOut) return `timed out after ${timeoutSeconds} s and was killed`;
  if (outcome.isKilled) return 'was stopped (backup aborted)';
  if (outcome.signal !== null) return `killed by ${outcome.signal}`;
  return `exited with code ${outcome.code}`;
}

export function startProcess(file: string, args: readonly string[], options: ProcessOptions): RunningProcess {
  const stderr = new OutputTail();
  const stdoutChunks: Buffer[] = [];
  let stdoutSize = 0;
  let isTimedOut = false;
  let isKilled = false;
  let hasExited = false;
  let graceTimer: NodeJS.Timeout | undefined;
  const child = spawn(file, args, {
    stdio: [options.stdin, options.stdout === 'capture' ? 'pipe' : options.stdout, 'pipe'],
    detached: true,
    env: options.env ?? process.env,
  });
  const signalGroup = (signal: NodeJS.Signals): void => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      // ESRCH: the group is already gone, which is what we wanted.
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
    if (stdoutSize >= HEAD_BYTES) return;
    stdoutChunks.push(chunk);
    stdoutSize += chunk.length;
  });
  const outcome = new Promise<ProcessOutcome>((resolve) => {
    const finish = (code: number | null, signal: NodeJS.Signals | null, startError?: string): void => {
      clearTimeout(deadline);
      if (graceTimer !== undefined) clearTimeout(graceTimer);
      resolve({ code, signal, isTimedOut, isKilled, startError, stderrTail: stderr.text(), stdoutHead: Buffer.concat(stdoutChunks).subarray(0, HEAD_BYTES).toString('utf8') });
    };
    child.once('error', (error) => {
      hasExited = true;
      finish(null, null, error.message);
    });
    child.once('exit', () => {
      hasExited = true;
      // Leftovers of the group (a backgrounded writer) would hold the FIFO open and the reader would never see EOF.
      signalGroup('SIGKILL');
    });
    child.once('close', (code, signal) => finish(code, signal));
  });
  return {
    outcome,
    kill: () => {
      if (hasExited) return;
      isKilled = true;
      stop();
    },
  };
}
