// The demo's way of running the product: each command printed as a user would type it, run as a
// real process, its output shown; a failure stops the demo with that command's output.
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';

const CLI = resolve(__dirname, '..', 'cli');

export interface Ran {
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `program` (cpsbackup, cpsbackup-server, cpsbackup-ca) with args; rejects unless it exits 0. */
export function runCommand(program: string, args: readonly string[]): Promise<Ran> {
  process.stdout.write(`$ ${program} ${args.join(' ')}\n`);
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [join(CLI, `${program}.js`), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (data: Buffer) => { stdout += data.toString(); });
    child.stderr.on('data', (data: Buffer) => { stderr += data.toString(); });
    child.on('close', (code) => {
      process.stdout.write(stdout + stderr);
      if (code === 0) resolveRun({ stdout, stderr });
      else reject(new Error(`${program} ${args.join(' ')} exited ${code}`));
    });
  });
}

export interface RunningDemoServer {
  readonly port: number;
  stop(): Promise<void>;
}

/** Starts `cpsbackup-server -c config` in the background; resolves with its port once it listens. */
export function startServer(config: string): Promise<RunningDemoServer> {
  process.stdout.write(`$ cpsbackup-server -c ${config} &\n`);
  const child: ChildProcess = spawn(process.execPath, [join(CLI, 'cpsbackup-server.js'), '-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stderr!.on('data', (data: Buffer) => { output += data.toString(); });
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
  return new Promise((resolveStart, reject) => {
    child.stdout!.on('data', (data: Buffer) => {
      output += data.toString();
      const match = /listening on [^\s]+:(\d+)/.exec(output);
      if (match) {
        process.stdout.write(output);
        resolveStart({
          port: Number(match[1]),
          stop: async () => {
            child.kill('SIGTERM');
            await exited;
          },
        });
      }
    });
    child.once('exit', (code) => reject(new Error(`cpsbackup-server exited ${code} before listening:\n${output}`)));
  });
}
