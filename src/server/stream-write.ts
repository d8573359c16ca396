// Writes one message to a grpc-js stream and waits for 'drain' when its buffer is full,
// so a slow peer slows the sender instead of growing memory.
import { once } from 'node:events';
import type { Writable } from 'node:stream';

export async function writeWithBackpressure<T>(stream: Writable & { write(message: T): boolean }, message: T): Promise<void> {
  if (stream.write(message)) return;
  if (stream.destroyed) throw new Error('stream closed');
  // One controller removes both listeners whichever fires first: a long restore waits here
  // thousands of times, and a leftover 'close' listener per wait would pile up.
  const controller = new AbortController();
  try {
    await Promise.race([
      once(stream, 'drain', { signal: controller.signal }),
      once(stream, 'close', { signal: controller.signal }).then(() => { throw new Error('stream closed by the peer'); }),
    ]);
  } finally {
    controller.abort();
  }
}
