// One receive per client at a time on this node: a daemon's scheduled receive and an operator's
// `-i --if-new` would otherwise load the same dumps into the same databases at once.
import { mkdir, open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { BusyError } from '../../common/errors';
import { receiveFolder } from './receive-state';

export interface ReceiveLock {
  release(): Promise<void>;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A lock file holding the owner's pid; one left by a dead process (SIGKILL) is taken over. */
export async function acquireReceiveLock(stateDirectory: string, clientKey: string): Promise<ReceiveLock> {
  const folder = receiveFolder(stateDirectory);
  await mkdir(folder, { recursive: true });
  const file = join(folder, `${clientKey}.lock`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, 'wx', 0o600);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return { release: () => unlink(file).catch(() => undefined) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number((await readFile(file, 'utf8').catch(() => '')).trim());
      if (Number.isSafeInteger(owner) && owner > 0 && isAlive(owner)) {
        throw new BusyError(`another receive from this client is running (pid ${owner}, ${file})`);
      }
      await unlink(file).catch(() => undefined);
    }
  }
  throw new BusyError(`cannot take ${file}: another receive keeps re-creating it`);
}
