// What a program that has work to finish does when the reader of its stdout or stderr goes away
// (`cpsbackup-server … 2>&1 | tee server.log`, and tee dies): its lines are lost, its work goes on.

/**
 * Without an 'error' listener, the first write after the reader left (EPIPE) ends the process with an
 * uncaught error, whatever it was doing. EPIPE is dropped (the stream is destroyed, later writes are
 * lost quietly); any other error on the stream is still thrown.
 */
export function surviveClosedOutput(streams: readonly NodeJS.WriteStream[] = [process.stdout, process.stderr]): void {
  for (const stream of streams) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
    });
  }
}
