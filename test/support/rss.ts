// Peak resident memory (VmHWM) of real processes from /proc: read directly for a running process, and
// for a short-lived node process by preloading this file, which records the process's own peak as it exits.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

const PEAK_FILE_VARIABLE = 'CPSBACKUP_PEAK_RSS_FILE';

/** VmHWM of a live process in bytes: its peak resident set since it started. */
export function peakRssOf(pid: number): number {
  return parseHighWaterMark(readFileSync(`/proc/${pid}/status`, 'utf8'));
}

function parseHighWaterMark(status: string): number {
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(status);
  if (!match) throw new Error('no VmHWM line in /proc/<pid>/status');
  return Number(match[1]) * 1024;
}

export interface MeasuredRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly peakRssBytes: number;
}

/** Runs a node script with this file preloaded and returns its output and its peak resident memory. */
export async function runNodeMeasured(script: string, args: readonly string[], peakFile: string): Promise<MeasuredRun> {
  const child = spawn(process.execPath, ['--require', __filename, script, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, [PEAK_FILE_VARIABLE]: peakFile },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (data: Buffer) => { stdout += data.toString(); });
  child.stderr.on('data', (data: Buffer) => { stderr += data.toString(); });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolveExit) => {
    child.on('close', (exitCode, exitSignal) => resolveExit([exitCode, exitSignal]));
  });
  const peakRssBytes = parseHighWaterMark(await readFile(peakFile, 'utf8'));
  return { code, signal, stdout, stderr, peakRssBytes };
}

// Preloaded into a measured process: 'exit' runs after everything else, so the peak is final.
const peakFile = process.env[PEAK_FILE_VARIABLE];
if (peakFile !== undefined && require.main !== module) {
  process.on('exit', () => writeFileSync(peakFile, readFileSync('/proc/self/status', 'utf8')));
}
