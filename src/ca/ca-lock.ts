// The CA folder's lock (ca.lock, flock(2) through pid-lock.ts): every command that writes the folder
// holds it from its first read to its last write, so no run writes the index or crl.pem from a stale read.
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { acquirePidLock } from '../client/posix/pid-lock';
import { BusyError } from '../common/errors';

/**
 * How a run waits for the lock. It waits rather than fails at once: a CA command holds the lock for a
 * second or so (openssl), and a script issuing clients in parallel should not have to retry; the bound
 * keeps a run from hanging behind one that never ends.
 */
export interface CaLockWait {
  /** Default caLockWaitMilliseconds. */
  readonly waitMilliseconds?: number;
  /** Called once, when the first try finds the lock held, with who holds it. */
  readonly onWait?: (holder: string) => void;
}

export const caLockWaitMilliseconds = 60_000;

/** Between tries: short beside a command's second, with jitter so waiting runs do not try in step. */
const retryMilliseconds = 50;

export function caLockFile(folder: string): string {
  return path.join(folder, 'ca.lock');
}

/** Runs `work` holding the CA folder's lock; `folder` must exist. Throws BusyError naming the holder after the wait. */
export async function withCaLock<T>(folder: string, work: () => Promise<T>, wait: CaLockWait = {}): Promise<T> {
  const file = caLockFile(folder);
  const waitMilliseconds = wait.waitMilliseconds ?? caLockWaitMilliseconds;
  const deadline = Date.now() + waitMilliseconds;
  let holder: string | undefined;
  let release: (() => Promise<void>) | undefined;
  while (release === undefined) {
    try {
      release = await acquirePidLock(file, (owner) => `process ${owner}`);
    } catch (error) {
      if (!(error instanceof BusyError)) throw error;
      // pid-lock's message when the holder wrote no PID (yet): the lock file is named instead.
      const current = /^process \d+$/.test(error.message) ? error.message : `another process (${file})`;
      if (holder === undefined) wait.onWait?.(current);
      holder = current;
      if (Date.now() >= deadline) {
        throw new BusyError(`the CA folder ${folder} is in use by ${holder} (another cpsbackup-ca holding ${file}); `
          + `waited ${waitMilliseconds / 1000} s: try again when it has finished`);
      }
      await sleep(retryMilliseconds + Math.random() * retryMilliseconds);
    }
  }
  try {
    return await work();
  } finally {
    await release();
  }
}
