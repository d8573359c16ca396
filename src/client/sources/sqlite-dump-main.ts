// Child program for a sqlite source: runs `sqlite3 <args>` (a `.dump`), passes its bytes on to stdout,
// which the parent made the FIFO, and exits 1 when the dump recorded errors that sqlite3 exits 0 on.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { SqliteDumpCheck } from './sqlite-dump-check';

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly error?: Error;
}

async function dump(args: readonly string[]): Promise<number> {
  // stderr inherited: sqlite3's own messages reach the parent's stderr tail, and so the operator.
  const child = spawn('sqlite3', args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<Exit>((resolve) => {
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  const check = new SqliteDumpCheck();
  for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
    check.push(chunk);
    // Backpressure: while the FIFO is full we stop reading, and sqlite3 blocks on its own full pipe.
    if (!process.stdout.write(chunk)) await once(process.stdout, 'drain');
  }
  // stdout cannot be closed; an empty write's callback runs once everything before it is flushed.
  await new Promise<void>((resolve, reject) => process.stdout.write('', (error?: Error | null) => (error ? reject(error) : resolve())));
  const { code, signal, error } = await exited;
  if (error !== undefined) return fail(`cannot run sqlite3: ${error.message}`);
  if (signal !== null) return fail(`sqlite3 was killed by ${signal}`);
  if (code !== 0) return code ?? 1;
  const problem = check.problem();
  return problem === undefined ? 0 : fail(problem);
}

function fail(message: string): number {
  process.stderr.write(`${message}\n`);
  return 1;
}

// A reader gone (EPIPE) is a failed dump, said in one line rather than a stack trace.
process.stdout.on('error', (error) => {
  process.stderr.write(`cannot write the dump: ${error.message}\n`);
  process.exit(1);
});
dump(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`sqlite dump failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
