// A lock file holding its owner's PID, created exclusively; one left by a dead process
// (SIGKILL, power loss) is taken over instead of blocking forever.
import { randomBytes } from 'node:crypto';
import { link, open, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { BusyError } from './errors';

/** link() refused by the file system itself (exFAT, vfat, some CIFS and FUSE mounts): it has no hard links. */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

/** Creates the lock file holding our PID, or fails with EEXIST: whole at once where hard links exist. */
async function createLock(file: string, written: string): Promise<void> {
  try {
    await link(written, file);
  } catch (error) {
    if (!NO_HARD_LINKS.has((error as NodeJS.ErrnoException).code ?? '')) throw error;
    // Created, then written: the brief empty lock is read as a live owner's (see below), not a dead one's.
    const handle = await open(file, 'wx', 0o600);
    try {
      await handle.writeFile(`${process.pid}\n`);
    } finally {
      await handle.close();
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether the file changed in the last 10 s: a lock's creator writes its PID within microseconds. */
async function isRecent(file: string): Promise<boolean> {
  const modified = await stat(file).then((info) => info.mtimeMs, () => 0);
  return Date.now() - modified < 10_000;
}

/** Returns the release function; throws BusyError with describeOwner's text while a live process holds it. */
export async function acquirePidLock(file: string, describeOwner: (pid: number) => string): Promise<() => Promise<void>> {
  // Written whole under a name of our own, then linked to the lock's name (which fails if it exists):
  // a lock created empty and written after left a moment in which another process read no owner,
  // took it for a dead one's and removed it, and both went on holding the lock.
  const written = `${file}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(written, `${process.pid}\n`, { mode: 0o600 });
  try {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await createLock(file, written);
        return async () => { await unlink(file).catch(() => undefined); };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const text = (await readFile(file, 'utf8').catch(() => undefined))?.trim();
        // Empty: being written this instant (a file system without hard links), unless it has been so
        // for long (its writer died in between): then it is a dead owner's like any other.
        if (text === '' && await isRecent(file)) throw new BusyError(`cannot take the lock ${file}: another process is taking it`);
        const owner = Number(text);
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
