// Ends a CLI process with the exit code its main() returned. main() turns every error into a code
// itself; one that escapes anyway is a bug, said once on stderr with its stack, and exit 1.

export function exitWith(result: Promise<number>, program: string): void {
  result.then((code) => process.exit(code), (error: unknown) => {
    process.stderr.write(`${program}: internal error: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(1);
  });
}
