// Opens what an entry's content is read from: a regular file, or a FIFO found by the walker (read_all_fifos).
// A FIFO is opened non-blocking and read through a net.Socket, so a FIFO without a writer reads as empty
// instead of blocking a libuv thread forever.
import { constants, open as openDescriptor } from 'node:fs';
import { open } from 'node:fs/promises';
import { promisify } from 'node:util';
import { Socket } from 'node:net';

export const READ_BUFFER_SIZE = 1024 * 1024;

/** Smallest read buffer: a read stream allocates a whole buffer per read, even for a 100-byte file. */
const MIN_READ_BUFFER_SIZE = 16 * 1024;

/**
 * Returns undefined when the file vanished since the walk. expectedSize (from the walk) sizes
 * the read buffer: allocating 1 MiB per small file made garbage collection the client's main cost.
 */
export async function openFileContent(path: string, expectedSize: number): Promise<AsyncIterable<Buffer> | undefined> {
  try {
    const handle = await open(path, 'r');
    // +1 so a file read whole in one buffer is known complete without a second full-size buffer.
    const highWaterMark = Math.min(READ_BUFFER_SIZE, Math.max(MIN_READ_BUFFER_SIZE, expectedSize + 1));
    return handle.createReadStream({ highWaterMark });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

export async function openFifoContent(path: string): Promise<AsyncIterable<Buffer>> {
  // A raw descriptor, not a FileHandle: the socket owns and closes it.
  const descriptor = await promisify(openDescriptor)(path, constants.O_RDONLY | constants.O_NONBLOCK);
  return new Socket({ fd: descriptor, readable: true, writable: false });
}
