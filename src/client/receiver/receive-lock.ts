// One receive per client at a time on this node: a daemon's scheduled receive and an operator's
// `-i --if-new` would otherwise load the same dumps into the same databases at once.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { acquirePidLock } from '../posix/pid-lock';
import { receiveFolder } from './receive-state';

export interface ReceiveLock {
  release(): Promise<void>;
}

/** A lock file holding the owner's pid; one left by a dead process (SIGKILL) is taken over. */
export async function acquireReceiveLock(stateDirectory: string, clientKey: string): Promise<ReceiveLock> {
  const folder = receiveFolder(stateDirectory);
  await mkdir(folder, { recursive: true });
  const file = join(folder, `${clientKey}.lock`);
  const release = await acquirePidLock(file, (owner) => `another receive from this client is running (pid ${owner}, ${file})`);
  return { release };
}
