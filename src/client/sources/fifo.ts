// Creates a dump FIFO and opens both its ends without ever blocking a libuv thread.
// The read end is opened first, non-blocking, and kept by us: the write end then opens at once,
// and once the dumper (sole writer) is gone, reading returns EOF instead of waiting for a writer.
import { execFile } from 'node:child_process';
import { close, constants, open } from 'node:fs';
import { lstat, unlink } from 'node:fs/promises';
import { promisify } from 'node:util';
import { DumpFailedError } from '../../common/errors';

const execFileAsync = promisify(execFile);
const openAsync = promisify(open);
const closeAsync = promisify(close);

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

export async function openFifoEnds(path: string): Promise<FifoEnds> {
  const readDescriptor = await openAsync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const writeDescriptor = await openAsync(path, constants.O_WRONLY);
    return { readDescriptor, writeDescriptor };
  } catch (error) {
    await closeAsync(readDescriptor);
    throw error;
  }
}

export async function closeDescriptor(descriptor: number): Promise<void> {
  await closeAsync(descriptor);
}
