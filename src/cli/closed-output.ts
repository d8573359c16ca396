// What a program that has work to finish does when the reader of its stdout or stderr goes away
// (`cpsbackup-server … 2>&1 | tee server.log`, and tee dies; the terminal of a dropped ssh session): its
// lines are lost, its work goes on.

/**
 * Whether a write failed because nobody can read the output any more: a pipe's reader left (EPIPE), or the
 * terminal hung up (EIO on a terminal: an ssh session dropped; the SIGHUP that came with it stops a backup or
 * a restore, which then still lists its gaps and runs its post script, and each of those writes met EIO).
 * EIO on anything else is a failing disk under a redirected listing: thrown, never a quiet exit 0 with the
 * output lost (found by review).
 */
export function isOutputGone(error: NodeJS.ErrnoException, stream: NodeJS.WriteStream): boolean {
  return error.code === 'EPIPE' || (error.code === 'EIO' && stream.isTTY === true);
}

/**
 * Without an 'error' listener, the first write after the reader left (EPIPE, EIO) ends the process with an
 * uncaught error, whatever it was doing (a hung-up terminal: SIGABRT, no post script). Those are dropped
 * (the stream is destroyed, later writes are lost quietly); any other error on the stream is still thrown.
 */
export function surviveClosedOutput(streams: readonly NodeJS.WriteStream[] = [process.stdout, process.stderr]): void {
  for (const stream of streams) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (!isOutputGone(error, stream)) throw error;
    });
  }
}
