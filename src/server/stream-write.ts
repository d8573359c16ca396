// Writes one message to a grpc-js stream and waits for 'drain' when its buffer is full,
// so a slow peer slows the sender instead of growing memory.
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { BackupError } from '../common/errors';

/** A grpc-js server stream: besides 'close' it says 'cancelled' when the peer goes away. */
type ServerStream<T> = Writable & { write(message: T): boolean; readonly cancelled?: boolean };

export async function writeWithBackpressure<T>(stream: ServerStream<T>, message: T): Promise<void> {
  if (stream.write(message)) return;
  if (stream.destroyed || stream.cancelled) throw peerGoneError();
  // One controller removes every listener whichever fires first: a long restore waits here
  // thousands of times, and a leftover listener per wait would pile up.
  const controller = new AbortController();
  try {
    await Promise.race([
      once(stream, 'drain', { signal: controller.signal }),
      once(stream, 'close', { signal: controller.signal }).then(() => { throw peerGoneError(); }),
      // A peer that vanishes while we wait never drains the buffer, and grpc-js then emits only
      // 'cancelled': without this the handler waited forever and kept the store's lock (GC and
      // server shutdown waited with it).
      once(stream, 'cancelled', { signal: controller.signal }).then(() => { throw peerGoneError(); }),
    ]);
  } finally {
    controller.abort();
  }
}

/** A warning in the server log, not an internal error: clients die, get killed and run out of disk. */
export function peerGoneError(): BackupError {
  return new BackupError('INTERRUPTED', 'the client cancelled the call or went away');
}
