// A lock file holding its owner's PID, created exclusively; one left by a dead process
// (SIGKILL, power loss) is taken over instead of blocking forever.
import { link, readFile, unlink, writeFile } from 'node:fs/promises';
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
  // Written whole under a name of our own, then linked to the lock's name (which fails if it exists):
  // a lock created empty and written after left a moment in which another process read no owner,
  // took it for a dead one's and removed it, and both went on holding the lock.
  const written = `${file}.${process.pid}.tmp`;
  await writeFile(written, `${process.pid}\n`, { mode: 0o600 });
  try {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await link(written, file);
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
  } finally {
    await unlink(written).catch(() => undefined);
  }
  throw new BusyError(`cannot take the lock ${file}`);
}
