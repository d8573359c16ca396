// Runs one benchmark command as a real process and measures its wall time and peak RSS.
// Peak RSS and CPU time come from GNU time (%M %U %S) when present, else from polling /proc/PID.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CommandOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

export interface Measurement {
  readonly wallSeconds: number;
  readonly peakRssBytes: number;
  /** User + system CPU time; unlike wall time it barely moves when other work shares the cores. */
  readonly cpuSeconds: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A benchmarked command exited non-zero; carries the command line and its output tail. */
export class CommandFailedError extends Error {
  constructor(
    readonly commandLine: string,
    readonly exitCode: number | null,
    readonly stderrTail: string,
  ) {
    super(`${commandLine} exited with ${exitCode ?? 'a signal'}${stderrTail ? `:\n${stderrTail}` : ''}`);
    this.name = 'CommandFailedError';
  }
}

const gnuTime = '/usr/bin/time';
const outputLimit = 64 * 1024;

/** Keeps only the last bytes of a stream so a chatty tool cannot grow the harness's memory. */
class Tail {
  private text = '';
  add(chunk: Buffer): void {
    this.text = (this.text + chunk.toString('utf8')).slice(-outputLimit);
  }
  toString(): string {
    return this.text;
  }
}

export async function readPeakRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(status);
  return match ? Number(match[1]) * 1024 : 0;
}

/** Kernel clock ticks per second for /proc/PID/stat; 100 on every Linux this runs on. */
const clockTicks = 100;

export async function readCpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces): state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicks;
}

/** Resets VmHWM to the current RSS (Linux ≥ 4.0), so a long-running server's peak is per scenario. */
export async function resetPeakRss(pid: number): Promise<void> {
  await writeFile(`/proc/${pid}/clear_refs`, '5');
}

function commandLine(command: string, args: readonly string[]): string {
  return [command, ...args].map((part) => (/^[\w@%+=:,./-]+$/.test(part) ? part : `'${part.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** Runs a command to completion; throws CommandFailedError on a non-zero exit. */
export async function runMeasured(command: string, args: readonly string[], options: CommandOptions = {}): Promise<Measurement> {
  const hasGnuTime = existsSync(gnuTime);
  const scratch = await mkdtemp(join(tmpdir(), 'bench-measure-'));
  const timeFile = join(scratch, 'rss');
  const [program, programArgs] = hasGnuTime ? [gnuTime, ['-o', timeFile, '-f', '%M %U %S', command, ...args]] : [command, [...args]];
  const stdout = new Tail();
  const stderr = new Tail();
  let polledPeak = 0;
  let polledCpu = 0;
  const started = process.hrtime.bigint();
  try {
    const child = spawn(program, programArgs, { env: options.env ?? process.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (chunk: Buffer) => stdout.add(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.add(chunk));
    const poller = hasGnuTime
      ? undefined
      : setInterval(() => {
          if (child.pid === undefined) return;
          readPeakRss(child.pid).then((peak) => (polledPeak = Math.max(polledPeak, peak)), () => undefined);
          readCpuSeconds(child.pid).then((cpu) => (polledCpu = Math.max(polledCpu, cpu)), () => undefined);
        }, 20);
    const exitCode = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code) => resolve(code));
    });
    if (poller) clearInterval(poller);
    const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (exitCode !== 0) throw new CommandFailedError(commandLine(command, args), exitCode, stderr.toString().slice(-4000));
    if (!hasGnuTime) return { wallSeconds, peakRssBytes: polledPeak, cpuSeconds: polledCpu, stdout: stdout.toString(), stderr: stderr.toString() };
    // GNU time may put a status line first; the figures are on the last line.
    const [kibibytes, user, system] = ((await readFile(timeFile, 'utf8')).trim().split('\n').pop() ?? '').split(' ').map(Number);
    return { wallSeconds, peakRssBytes: kibibytes * 1024, cpuSeconds: user + system, stdout: stdout.toString(), stderr: stderr.toString() };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Runs a short helper command (version queries, listings) without measuring it. */
export async function runQuiet(command: string, args: readonly string[], options: CommandOptions = {}): Promise<string> {
  const stdout = new Tail();
  const stderr = new Tail();
  const child = spawn(command, [...args], { env: options.env ?? process.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', (chunk: Buffer) => stdout.add(chunk));
  child.stderr.on('data', (chunk: Buffer) => stderr.add(chunk));
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
  if (exitCode !== 0) throw new CommandFailedError(commandLine(command, args), exitCode, stderr.toString().slice(-4000));
  return stdout.toString();
}
