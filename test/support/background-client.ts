// The real cpsbackup CLI run in the background, for tests that pause (SIGSTOP), time or kill it while
// other work goes on; stop() ends only this process, by its own PID.
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import type { CommandResult } from './sandbox';

const CLIENT_CLI = resolve(__dirname, '..', '..', 'src', 'cli', 'cpsbackup.js');

export interface BackgroundClient {
  readonly child: ChildProcess;
  /** Settles when the process exits, with what it printed. */
  readonly result: Promise<CommandResult>;
  isRunning(): boolean;
  /** What it has printed so far, stdout and stderr as they came: for waiting on a daemon's log line. */
  output(): string;
  /** Resumes it if paused and kills it (SIGKILL) if still running; waits for its exit. */
  stop(): Promise<CommandResult>;
}

export function startClient(args: readonly string[]): BackgroundClient {
  const child = spawn(process.execPath, [CLIENT_CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let output = '';
  child.stdout!.on('data', (data: Buffer) => { stdout += data.toString(); output += data.toString(); });
  child.stderr!.on('data', (data: Buffer) => { stderr += data.toString(); output += data.toString(); });
  const result = new Promise<CommandResult>((resolveResult) => {
    child.on('close', (code, signal) => resolveResult({ code, signal, stdout, stderr }));
  });
  const isRunning = (): boolean => child.exitCode === null && child.signalCode === null;
  return {
    child,
    result,
    isRunning,
    output: () => output,
    async stop() {
      if (isRunning()) {
        child.kill('SIGCONT');
        child.kill('SIGKILL');
      }
      return result;
    },
  };
}
