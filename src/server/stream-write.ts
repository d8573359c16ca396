// Writes one message to a grpc-js stream and waits for 'drain' when its buffer is full,
// so a slow peer slows the sender instead of growing memory.
import { once } from 'node:events';
import type { Writable } from 'node:stream';

export async function writeWithBackpressure<T>(stream: Writable & { write(message: T): boolean }, message: T): Promise<void> {
  if (stream.write(message)) return;
  if (stream.destroyed) throw new Error('stream closed');
  await Promise.race([
    once(stream, 'drain'),
    once(stream, 'close').then(() => { throw new Error('stream closed by the peer'); }),
  ]);
}
