// Ends a CLI process with the exit code its main() returned. main() turns every error into a code
// itself; one that escapes anyway is a bug, said once on stderr with its stack, and exit 1.

export function exitWith(result: Promise<number>, program: string): void {
  result.then((code) => exitAfterFlush(code), (error: unknown) => {
    process.stderr.write(`${program}: internal error: ${(error as Error)?.stack ?? String(error)}\n`);
    exitAfterFlush(1);
  });
}

/**
 * process.exit() drops what is still queued for a pipe: `cpsbackup -s 3 --json | jq` got the first
 * 64 KiB and then broken JSON. An empty write's callback runs once everything before it is out.
 */
function exitAfterFlush(code: number): void {
  let pending = 2;
  const done = (): void => {
    if (--pending === 0) process.exit(code);
  };
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.writableLength === 0 || stream.destroyed) done();
    else stream.write('', done);
  }
}
