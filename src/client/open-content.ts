// Opens what an entry's content is read from: a regular file, or a FIFO found by the walker (read_all_fifos).
// A FIFO is opened non-blocking and read through a net.Socket, so a FIFO without a writer reads as empty
// instead of blocking a libuv thread forever.
import { constants, open as openDescriptor } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { promisify } from 'node:util';
import { Socket } from 'node:net';
import { MAX_DATA_FRAME, PreparedData } from '../common/wire/fast-service';

/** A frame's size when a file turns out longer than the walk said: enough to notice growth cheaply. */
const GROWTH_PROBE_SIZE = 16 * 1024;

/**
 * Returns undefined when the file vanished since the walk. The file is read straight into Data
 * messages (PreparedData) sized from expectedSize (the walk's): one read buffer per frame, which
 * the serializer then sends without copying. A file that grew is read on until its end.
 */
export async function openFileContent(path: string, expectedSize: number): Promise<AsyncIterable<PreparedData | Buffer> | undefined> {
  try {
    return readFrames(await open(path, 'r'), expectedSize);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function* readFrames(handle: FileHandle, expectedSize: number): AsyncGenerator<PreparedData | Buffer> {
  try {
    let remaining = expectedSize;
    for (;;) {
      const frame = new PreparedData(remaining > 0 ? Math.min(remaining, MAX_DATA_FRAME) : GROWTH_PROBE_SIZE);
      const filled = await fill(handle, frame.chunk);
      if (filled === 0) return;
      if (filled < frame.chunk.length) {
        yield frame.chunk.subarray(0, filled); // shrank since the walk (or a probe found a little more): copied once
        return;
      }
      yield frame;
      remaining = Math.max(0, remaining - filled);
    }
  } finally {
    await handle.close();
  }
}

/** Reads until the buffer is full or the file ends; returns the bytes read. */
async function fill(handle: FileHandle, buffer: Buffer): Promise<number> {
  let filled = 0;
  while (filled < buffer.length) {
    const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, null);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled;
}

export async function openFifoContent(path: string): Promise<AsyncIterable<Buffer>> {
  // A raw descriptor, not a FileHandle: the socket owns and closes it.
  const descriptor = await promisify(openDescriptor)(path, constants.O_RDONLY | constants.O_NONBLOCK);
  return new Socket({ fd: descriptor, readable: true, writable: false });
}
