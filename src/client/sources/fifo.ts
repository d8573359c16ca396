// Creates a dump FIFO and opens both its ends without ever blocking a libuv thread.
// The read end is opened first, non-blocking, and kept by us: the write end then opens at once,
// and once the dumper (sole writer) is gone, reading returns EOF instead of waiting for a writer.
import { execFile } from 'node:child_process';
import { close, constants, fstat, open } from 'node:fs';
import { lstat, unlink } from 'node:fs/promises';
import { promisify } from 'node:util';
import { DumpFailedError } from '../../common/errors';
import { handlePath } from '../posix/at';

const execFileAsync = promisify(execFile);
const openAsync = promisify(open);
const closeAsync = promisify(close);
const fstatAsync = promisify(fstat);

export interface FifoEnds {
  /** Non-blocking; meant for a net.Socket, which reads pipes through libuv's event loop. */
  readonly readDescriptor: number;
  /** Blocking, as dumpers expect of their stdout; handed to the child, then closed by us. */
  readonly writeDescriptor: number;
}

/**
 * Node has no mkfifo, coreutils has. Refuses to replace a regular file: that is a restored dump
 * whose load failed, kept on purpose, and a backup must not destroy it.
 */
export async function makeFifo(sourceName: string, path: string): Promise<FifoIdentity> {
  const existing = await lstat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (existing?.isFIFO()) {
    await unlink(path); // left by a run that crashed
  } else if (existing !== undefined) {
    throw new DumpFailedError(sourceName, `${path} exists and is not a FIFO (a restored dump not loaded yet?); load or move it first`);
  }
  await execFileAsync('mkfifo', ['-m', '600', '--', path]);
  const made = await lstat(path);
  if (!made.isFIFO()) throw new DumpFailedError(sourceName, `${path} was replaced by something else (${kindOf(made)}) just after this backup made its FIFO there: not dumped into`);
  return { device: made.dev, inode: made.ino };
}

/** The FIFO a run made: what it removes at its end is that one, never what took its name since. */
export interface FifoIdentity {
  readonly device: number;
  readonly inode: number;
}

/**
 * Removes the FIFO if its name still holds it. A restore running beside the backup (-i, a receive)
 * puts a dump file under the same name, and a kept dump whose load failed is the only copy of it.
 */
export async function removeFifo(path: string, identity: FifoIdentity): Promise<void> {
  const current = await lstat(path).catch(() => undefined);
  if (current === undefined || current.dev !== identity.device || current.ino !== identity.inode) return;
  await unlink(path).catch(() => undefined);
}

/**
 * Opens the FIFO this run made, and nothing else: the name may hold something else by now (a restore or a
 * receive beside the backup puts its dump file there). Opened by path, the dumper wrote the live database
 * into a restored dump file about to be loaded, and the backup died on a TypeError. The read end is checked
 * to be the FIFO `identity` names; the write end is opened through the read end (/proc/self/fd), so no
 * later swap of the name reaches it.
 */
export async function openFifoEnds(sourceName: string, path: string, identity: FifoIdentity): Promise<FifoEnds> {
  const readDescriptor = await openAsync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ELOOP' || error.code === 'ENOENT') throw replaced(sourceName, path, error.code === 'ELOOP' ? 'a symlink' : 'nothing');
    throw error;
  });
  try {
    await checkIdentity(sourceName, path, readDescriptor, identity);
    const writeDescriptor = await openAsync(handlePath(readDescriptor), constants.O_WRONLY).catch(async (error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
      // No /proc: by path, then the same check (a FIFO with our reader open does not block this open).
      return openAsync(path, constants.O_WRONLY | constants.O_NOFOLLOW);
    });
    try {
      await checkIdentity(sourceName, path, writeDescriptor, identity);
    } catch (error) {
      await closeAsync(writeDescriptor);
      throw error;
    }
    return { readDescriptor, writeDescriptor };
  } catch (error) {
    await closeAsync(readDescriptor);
    throw error;
  }
}

async function checkIdentity(sourceName: string, path: string, descriptor: number, identity: FifoIdentity): Promise<void> {
  const opened = await fstatAsync(descriptor);
  if (opened.isFIFO() && opened.dev === identity.device && opened.ino === identity.inode) return;
  throw replaced(sourceName, path, opened.isFIFO() ? 'another FIFO' : kindOf(opened));
}

function replaced(sourceName: string, path: string, what: string): DumpFailedError {
  return new DumpFailedError(sourceName, `${path} no longer holds the FIFO this backup made there but ${what} (a restore or receive `
    + 'writing its dump file there beside this backup?): not dumped into; nothing of this source was sent');
}

function kindOf(stats: { isFile(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean; isFIFO(): boolean }): string {
  if (stats.isFile()) return 'a regular file';
  if (stats.isDirectory()) return 'a folder';
  if (stats.isSymbolicLink()) return 'a symlink';
  return stats.isFIFO() ? 'a FIFO' : 'a special file';
}

export async function closeDescriptor(descriptor: number): Promise<void> {
  await closeAsync(descriptor);
}
