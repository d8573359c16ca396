// Child program for a mariadb source's data.sql: runs the mariadb client (`<client> <args>`, the dump
// script on our stdin), passes its bytes on to stdout, which the parent made the FIFO, and exits 1
// when a row did not come out as a row (mariadb-dump-check.ts): the client exits 0 on those.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { MariadbDumpCheck } from './mariadb-dump-check';

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly error?: Error;
}

async function dump(client: string, args: readonly string[]): Promise<number> {
  // stdin (the script) and stderr (the client's own messages, for the parent's stderr tail) inherited.
  const child = spawn(client, args, { stdio: ['inherit', 'pipe', 'inherit'] });
  const exited = new Promise<Exit>((resolve) => {
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  const check = new MariadbDumpCheck();
  for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
    check.push(chunk);
    const problem = check.problem();
    if (problem !== undefined) {
      // Nothing after a lost row is worth storing: the backup fails now, not after the rest of the dump.
      child.kill('SIGTERM');
      return fail(problem);
    }
    // Backpressure: while the FIFO is full we stop reading, and the client blocks on its own full pipe.
    if (!process.stdout.write(chunk)) await once(process.stdout, 'drain');
  }
  // stdout cannot be closed; an empty write's callback runs once everything before it is flushed.
  await new Promise<void>((resolve, reject) => process.stdout.write('', (error?: Error | null) => (error ? reject(error) : resolve())));
  const { code, signal, error } = await exited;
  if (error !== undefined) return fail(`cannot run ${client}: ${error.message}`);
  if (signal !== null) return fail(`${client} was killed by ${signal}`);
  return code ?? 1;
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
const [client, ...args] = process.argv.slice(2);
dump(client, args).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`mariadb dump failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
