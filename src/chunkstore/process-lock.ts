// One process at a time opens a store: the in-process StoreLock orders backups and GC,
// and this keeps a second process (a stray `gc` or `check` beside a running server) out entirely.
import { join } from 'node:path';
import { acquirePidLock } from '../client/posix/pid-lock';

export function acquireProcessLock(directory: string): Promise<() => Promise<void>> {
  return acquirePidLock(join(directory, 'lock'), (owner) => `store ${directory} is in use by process ${owner} (a running cpsbackup-server?)`);
}
