// One process at a time opens a store: a lock file holding the owner's PID, taken over only when that PID is gone.
// The in-process StoreLock orders backups and GC; this keeps a second process (a stray `gc`) out entirely.
import { open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { BusyError } from '../common/errors';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function acquireProcessLock(directory: string): Promise<() => Promise<void>> {
  const file = join(directory, 'lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, 'wx', 0o600);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return async () => { await unlink(file).catch(() => undefined); };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number((await readFile(file, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
        throw new BusyError(`store ${directory} is in use by process ${owner} (a running cpsbackup-server?)`);
      }
      await unlink(file).catch(() => undefined); // stale: its owner died without cleaning up
    }
  }
  throw new BusyError(`cannot take the lock ${file}`);
}
