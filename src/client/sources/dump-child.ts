// The plumbing of a dump's child program (sqlite-dump-main.ts, mariadb/mariadb-dump-main.ts): a tool's
// stdout passed on to ours, which the parent made the FIFO, with backpressure, checked on the way for
// what the tool exits 0 on; every way it fails said in one line, never a stack trace.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { SqliteDumpUser } from './sqlite-dump-user';

/** Reads the dump as it passes; problem() names the first thing in it that is no dump. */
export interface DumpCheck {
  push(chunk: Buffer): void;
  problem(): string | undefined;
}

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly error?: Error;
}

/**
 * Runs `tool args` (stdin as given: ignored, or ours when it holds the tool's script; stderr ours, for the
 * parent's stderr tail) and passes its stdout on; returns this program's exit code. With stopsAtProblem
 * the tool is stopped at the first problem: nothing after a lost row is worth storing. With runAs the tool
 * runs as that user and group (no supplementary groups: libuv drops them), from `/`.
 */
export async function passDumpOn(tool: string, args: readonly string[], stdin: 'ignore' | 'inherit', check: DumpCheck, stopsAtProblem: boolean,
  runAs?: SqliteDumpUser): Promise<number> {
  const identity = runAs === undefined ? {} : { uid: runAs.uid, gid: runAs.gid, cwd: '/' };
  const child = spawn(tool, args, { stdio: [stdin, 'pipe', 'inherit'], ...identity });
  const exited = new Promise<Exit>((resolve) => {
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
    check.push(chunk);
    const problem = stopsAtProblem ? check.problem() : undefined;
    if (problem !== undefined) {
      child.kill('SIGTERM');
      return fail(problem);
    }
    // Backpressure: while the FIFO is full we stop reading, and the tool blocks on its own full pipe.
    if (!process.stdout.write(chunk)) await once(process.stdout, 'drain');
  }
  // stdout cannot be closed; an empty write's callback runs once everything before it is flushed.
  await new Promise<void>((resolve, reject) => process.stdout.write('', (error?: Error | null) => (error ? reject(error) : resolve())));
  const { code, signal, error } = await exited;
  if (error !== undefined) return fail(`cannot run ${tool}: ${error.message}`);
  if (signal !== null) return fail(`${tool} was killed by ${signal}`);
  if (code !== 0) {
    if (runAs !== undefined) process.stderr.write(`(${tool} ran as uid ${runAs.uid}, gid ${runAs.gid}: the one user who may change the database's path)\n`);
    return code ?? 1;
  }
  const problem = check.problem();
  return problem === undefined ? 0 : fail(problem);
}

function fail(message: string): number {
  process.stderr.write(`${message}\n`);
  return 1;
}

/** Runs a dump child's work and exits with its code; a reader gone (EPIPE) or a throw is one line, exit 1. */
export function runDumpChild(what: string, work: () => Promise<number>): void {
  process.stdout.on('error', (error) => {
    process.stderr.write(`cannot write the dump: ${error.message}\n`);
    process.exit(1);
  });
  work().then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`${what} failed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
