// One backup at a time on this node, whoever starts it (-e, a daemon's job, a second daemon): taken
// before the pre script and the dumpers, so a second run starts nothing and undoes nothing. The same
// lock keeps restores into live paths and receives apart from backups. And one daemon per node.
import { realpathSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { NodeConfig } from '../common/config/node-config';
import { BusyError } from '../common/errors';
import { acquirePidLock, NO_LOCKS } from './posix/pid-lock';
import { LOCKS_FOLDER } from './own-folders';

/**
 * Why a lock file could not be made or locked at all: a state_directory this user may not write (-e as
 * a non-root user beside a root daemon), read-only or not a folder, full (no space or inode left, over
 * quota), failing (EIO), one where no file can be made (ENOENT: /proc), or a file system without locks.
 * -e writes nothing else there, so such a node backs up as it did before the lock existed, warned.
 */
const UNLOCKABLE = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'ENOSPC', 'EDQUOT', 'ENOENT', 'EIO', ...NO_LOCKS]);

function unlockableCode(error: unknown): string | undefined {
  if (error instanceof BusyError) return undefined;
  const codes = [(error as NodeJS.ErrnoException)?.code, ((error as { cause?: NodeJS.ErrnoException })?.cause)?.code];
  return codes.find((code) => code !== undefined && UNLOCKABLE.has(code));
}

/**
 * The server refuses a second backup of a client, but only once its pre script and dumpers have run,
 * and its post script then undid the first run's pre script (removed the snapshot the first backup
 * was reading). With this lock it is refused at once, with the holder's pid (BusyError, exit 1).
 * A lock is protection against a second run, not a precondition of one: when it cannot be taken for
 * one of the reasons above, `warn` says so and the backup runs without it.
 */
export function withBackupLock<T>(config: NodeConfig, run: () => Promise<T>, warn: (message: string) => void): Promise<T> {
  return withNodeLock(config, 'backup', 'backup.lock', (file, owner, label) => `${label === 'restore' || label === 'receive' ? HOLDERS[label] : 'another backup of this node'} `
    + `is running (pid ${owner}, lock ${file}): this one was not started; no script or dump was run`
    + `${label === 'restore' || label === 'receive' ? `; back up again once it has ended (the daemon retries on its own)` : ''}`,
  'this backup runs without protection against a second backup, a restore or a receive of this node starting beside it', run, warn, 'backup');
}

/** Who holds backup.lock, by the word its holder wrote after its pid. */
const HOLDERS: Readonly<Record<string, string>> = {
  backup: 'a backup of this node',
  restore: 'a restore into this node\'s live paths or databases',
  receive: 'a receive into this node\'s databases',
};

/**
 * A restore that writes into this node's live paths (in place) or loads dumps into its databases, and a
 * receive, take the backup lock too: beside a backup, the restore replaced the backup's dump FIFO with its dump
 * file, the dumper wrote the live database into it and the restore loaded that mixture (exit 0); a backup also
 * reads the very files and databases such a restore is replacing. The second of the two is refused at once, naming
 * the first's pid (BusyError, exit 1): a restore waiting silently behind a backup of hours, or a backup behind
 * a restore, is worse than being told and choosing (wait, or stop the other); the daemon's job retries on its own.
 * `action` says what this run is: 'restore' (-i in place, or loading) or 'receive' (-i --if-new, the daemon's).
 */
export function withRestoreLock<T>(config: NodeConfig, action: 'restore' | 'receive', run: () => Promise<T>, warn: (message: string) => void): Promise<T> {
  const what = action === 'restore' ? 'this restore' : 'this receive';
  return withNodeLock(config, action, 'backup.lock', (file, owner, label) => `${label === undefined ? 'a backup of this node' : HOLDERS[label] ?? 'another run of this node'} `
    + `is running (pid ${owner}, lock ${file}): ${what} was not started; nothing was written or loaded; run it again once that one has ended`
    + `${action === 'restore' ? ' (or restore --to a folder without --load, which touches no live data and needs no lock)' : ''}`,
  `${what} runs without protection against a backup of this node reading what it replaces`, run, warn, action);
}

/**
 * One daemon per node.conf: a second one (started twice by hand, or by two service managers) ran every
 * job beside the first, and half of each night's jobs failed as "another backup of this node is running".
 * Per node.conf, not per state_directory: a receiver of two clients runs a daemon for each receiver.conf.
 */
export function withDaemonLock<T>(config: NodeConfig, run: () => Promise<T>, warn: (message: string) => void): Promise<T> {
  // Its real path: a symlink or another spelling of the same node.conf is the same daemon.
  const name = `daemon.${createHash('sha256').update(realPathOf(config.file)).digest('hex').slice(0, 12)}.lock`;
  return withNodeLock(config, 'daemon', name, (file, owner) => `another daemon of ${config.file} is running (pid ${owner}, lock ${file}): not started`,
    'this daemon runs without protection against a second daemon of this node', run, warn);
}

function realPathOf(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return resolve(file);
  }
}

async function withNodeLock<T>(config: NodeConfig, kind: 'backup' | 'restore' | 'receive' | 'daemon', name: string,
  busy: (file: string, owner: string, label?: string) => string, unprotected: string, run: () => Promise<T>, warn: (message: string) => void,
  label?: string): Promise<T> {
  const locked = kind === 'daemon' ? run : () => withWorkLock(config, kind, run, warn, label);
  return withLockIn(config.stateDirectory, kind, name, busy, unprotected, locked, warn, label);
}

/**
 * Two node.conf files with state_directories of their own and one work_directory (an on-site and an
 * off-site client of one node, the shipped default path in both) made their dump FIFOs at the same
 * paths: one run's dumper wrote into the other's FIFO, and a backup held both databases' dumps, exit 0
 * (red team redconf). Backups, restores into live paths and receives also take work_directory/locks/work.lock
 * (an own folder: no backup walks it).
 */
function withWorkLock<T>(config: NodeConfig, kind: 'backup' | 'restore' | 'receive', run: () => Promise<T>, warn: (message: string) => void,
  label?: string): Promise<T> {
  if (resolve(config.workDirectory) === resolve(config.stateDirectory)) return run();
  return withLockIn(join(config.workDirectory, LOCKS_FOLDER), kind, 'work.lock', (file, owner, holder) => `a ${holder === 'restore' || holder === 'receive' ? holder : 'backup'} `
    + `of a node.conf with the same work_directory is running (pid ${owner}, lock ${file}): this ${kind} was not started; nothing was run, written or loaded; `
    + 'give each node.conf a work_directory of its own, or run it again once that one has ended',
  `this ${kind} runs without protection against another node.conf's run in the same work_directory`, run, warn, label);
}

async function withLockIn<T>(folder: string, kind: 'backup' | 'restore' | 'receive' | 'daemon', name: string,
  busy: (file: string, owner: string, label?: string) => string, unprotected: string, run: () => Promise<T>, warn: (message: string) => void,
  label?: string): Promise<T> {
  const file = join(folder, name);
  let release: (() => Promise<void>) | undefined;
  try {
    // As the dumps' staging folder makes the work_directory (staging-folder.ts): its own, 0700.
    await mkdir(folder, { recursive: true, ...(name === 'work.lock' ? { mode: 0o700 } : {}) });
    release = await acquirePidLock(file, (owner, holder) => busy(file, String(owner), holder), label);
  } catch (error) {
    const code = unlockableCode(error);
    if (code === undefined) throw error;
    warn(`cannot take the ${kind === 'daemon' ? 'daemon' : 'backup'} lock ${file} (${code}): ${unprotected}; give ${name === 'work.lock' ? 'work_directory' : 'state_directory'} `
      + '(node.conf) a folder this user can write, with free space, on a file system with locks');
  }
  try {
    return await run();
  } finally {
    await release?.();
  }
}
