// One backup at a time on this node, whoever starts it (-e, a daemon's job, a second daemon): taken
// before the pre script and the dumpers, so a second run starts nothing and undoes nothing.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { NodeConfig } from '../common/config/node-config';
import { acquirePidLock } from './posix/pid-lock';

/**
 * The server refuses a second backup of a client, but only once its pre script and dumpers have run,
 * and its post script then undid the first run's pre script (removed the snapshot the first backup
 * was reading). With this lock it is refused at once, with the holder's pid (BusyError, exit 1).
 */
export async function withBackupLock<T>(config: NodeConfig, run: () => Promise<T>): Promise<T> {
  await mkdir(config.stateDirectory, { recursive: true });
  const file = join(config.stateDirectory, 'backup.lock');
  const release = await acquirePidLock(file, (owner) => `another backup of this node is running (pid ${owner}, lock ${file}): `
    + 'this one was not started; no script or dump was run');
  try {
    return await run();
  } finally {
    await release();
  }
}
