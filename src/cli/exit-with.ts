// Ends a CLI process with the exit code its main() returned. main() turns every error into a code
// itself; one that escapes anyway is a bug, said once on stderr with its stack, and exit 1.

/**
 * Turns of the event loop granted to an empty loop before it counts as stuck: other 'beforeExit'
 * listeners run in the same emission and may start work that settles main() (CallsInFlight ends the
 * calls of a connection Node lost, whose errors then arrive). A loop that is truly stuck empties again at
 * once, so a bug is still told within microseconds. The grace is per rescue: once a listener has given
 * the loop work again, the next time it empties is a new question (a long run may lose several
 * connections, and the fourth loss is no more a bug than the first).
 */
const GRACE_TURNS = 3;

export function exitWith(result: Promise<number>, program: string): void {
  let isSettled = false;
  let graceTurns = GRACE_TURNS;
  // Node ends a process whose event loop is empty with code 0, even while main() still awaits
  // something nothing can settle any more (an unreferenced worker's answer, a lost callback): a
  // backup or restore would then "succeed" without finishing. That is a bug, and it exits 1.
  const onDrained = (): void => {
    if (isSettled) return;
    if (graceTurns-- > 0) {
      // Counted before the other listeners of this emission run. The list also holds handles that keep
      // no loop alive (stdout's or stderr's pipe or terminal once written to): taken as a rescue, they
      // gave the turns back for ever, and a stuck CLI spun at full CPU instead of exiting.
      const resourcesWhenDrained = process.getActiveResourcesInfo().length;
      setImmediate(() => {
        // More resources than the empty loop had (a timer, a socket, a file read) are work a listener
        // started: the loop was rescued, so the turns it used are given back.
        if (process.getActiveResourcesInfo().length > resourcesWhenDrained) graceTurns = GRACE_TURNS;
      });
      return;
    }
    process.stderr.write(`${program}: internal error: the work stopped before it finished (nothing left could complete it); it did not complete\n`);
    process.exit(1);
  };
  process.on('beforeExit', onDrained);
  result.then((code) => {
    isSettled = true;
    exitAfterFlush(code);
  }, (error: unknown) => {
    isSettled = true;
    process.stderr.write(`${program}: internal error: ${(error as Error)?.stack ?? String(error)}\n`);
    exitAfterFlush(1);
  });
}

/**
 * process.exit() drops what is still queued for a pipe: `cpsbackup -s 3 --json | jq` got the first
 * 64 KiB and then broken JSON. An empty write's callback runs once everything before it is out.
 */
export function exitAfterFlush(code: number): void {
  let pending = 2;
  const done = (): void => {
    if (--pending === 0) process.exit(code);
  };
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.writableLength === 0 || stream.destroyed) done();
    else stream.write('', done);
  }
}
