// A wait that an abort signal ends: for the calls a command makes before its own loop looks at the
// signal (a restore's list of backups on a server that stopped answering waited for ever after Ctrl-C).

/**
 * Settles as work does, or rejects with the signal's reason once it is aborted. The work is not
 * stopped: onAbort (closing its channel) is the caller's way to stop it.
 */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined, onAbort?: () => void): Promise<T> {
  if (signal === undefined) return work;
  if (signal.aborted) {
    onAbort?.();
    work.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const abort = (): void => {
      onAbort?.();
      work.catch(() => undefined); // what it ends with is no one's concern now
      reject(signal.reason);
    };
    signal.addEventListener('abort', abort, { once: true });
    work.then((value) => {
      signal.removeEventListener('abort', abort);
      resolve(value);
    }, (error: unknown) => {
      signal.removeEventListener('abort', abort);
      reject(error);
    });
  });
}
