// A lock file holding its owner's PID, created exclusively; one left by a dead process
// (SIGKILL, power loss) is taken over instead of blocking forever.
import { open, readFile, unlink } from 'node:fs/promises';
import { BusyError } from './errors';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Returns the release function; throws BusyError with describeOwner's text while a live process holds it. */
export async function acquirePidLock(file: string, describeOwner: (pid: number) => string): Promise<() => Promise<void>> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, 'wx', 0o600);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return async () => { await unlink(file).catch(() => undefined); };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number((await readFile(file, 'utf8').catch(() => '')).trim());
      if (Number.isSafeInteger(owner) && owner > 0 && isAlive(owner)) {
        throw new BusyError(describeOwner(owner));
      }
      await unlink(file).catch(() => undefined); // stale: its owner died without cleaning up
    }
  }
  throw new BusyError(`cannot take the lock ${file}`);
}
