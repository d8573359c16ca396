// Starts a long-running server for a benchmark, waits for its ready line, and stops it with SIGTERM.
// Its output is drained continuously (only a tail kept) so a chatty server never blocks on a full pipe.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

export interface ServerProcess {
  readonly pid: number;
  outputTail(): string;
  stop(): Promise<void>;
}

/** A port free on 127.0.0.1 right now; the caller binds it soon after. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function waitForExit(child: ChildProcess, milliseconds: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), milliseconds);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

export async function startServer(command: string, args: readonly string[], readyText: string, timeoutMilliseconds = 60_000, cwd?: string): Promise<ServerProcess> {
  const child = spawn(command, [...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd });
  let tail = '';
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    if (!(await waitForExit(child, 20_000))) {
      child.kill('SIGKILL');
      await waitForExit(child, 5_000);
    }
  };
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`server did not print "${readyText}" within ${timeoutMilliseconds / 1000} s:\n${tail}`)), timeoutMilliseconds);
    const fail = (error: Error): void => {
      clearTimeout(timer);
      stop().then(() => reject(error), () => reject(error));
    };
    const onData = (chunk: Buffer): void => {
      tail = (tail + chunk.toString('utf8')).slice(-16384);
      if (tail.includes(readyText)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('error', fail);
    child.once('exit', (code, signal) => fail(new Error(`server exited (${code ?? signal}) before it was ready:\n${tail}`)));
  });
  if (child.pid === undefined) throw new Error('server has no pid');
  return { pid: child.pid, outputTail: () => tail, stop };
}
