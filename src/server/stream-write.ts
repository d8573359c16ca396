// Writes messages to a grpc-js stream and waits when its buffer is full, so a slow peer slows the
// sender instead of growing memory: by message count (writeWithBackpressure) or, for calls whose
// messages run to a mebibyte each, by bytes (ByteBoundedWriter).
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { BackupError } from '../common/errors';

/** A grpc-js server stream: besides 'close' it says 'cancelled' when the peer goes away. */
type ServerStream<T> = Writable & { write(message: T, callback?: () => void): boolean; readonly cancelled?: boolean };

export async function writeWithBackpressure<T>(stream: ServerStream<T>, message: T): Promise<void> {
  if (stream.write(message)) return;
  if (stream.destroyed || stream.cancelled) throw peerGoneError();
  await unlessPeerGoes(stream, (signal) => once(stream, 'drain', { signal }));
}

/**
 * grpc-js asks a writer to wait only once 16 messages are queued, whatever their size: for a restore,
 * 16 messages of up to 1 MiB of chunks each, held with their serialized copies until sent. This
 * writer also makes a message with content wait while more than `maxBytes` of content (as `sizeOf`
 * counts it) is not yet handed to HTTP/2; one message bigger than that goes alone.
 */
export class ByteBoundedWriter<T> {
  private unflushedBytes = 0;
  /** Writes waiting for content to go, woken each time a message went. */
  private waiting: (() => void)[] = [];

  constructor(private readonly stream: ServerStream<T>, private readonly sizeOf: (message: T) => number, private readonly maxBytes: number) {}

  async write(message: T): Promise<void> {
    const bytes = this.sizeOf(message);
    this.unflushedBytes += bytes;
    const isAccepted = this.stream.write(message, () => {
      this.unflushedBytes -= bytes;
      const waiting = this.waiting;
      this.waiting = [];
      for (const wake of waiting) wake();
    });
    if (this.stream.destroyed || this.stream.cancelled) throw peerGoneError();
    if (!isAccepted) await unlessPeerGoes(this.stream, (signal) => once(this.stream, 'drain', { signal }));
    // Only content waits for content: entries and ends go by grpc-js's own count.
    while (bytes > 0 && this.unflushedBytes > this.maxBytes) {
      // grpc-js never calls back for a message of a cancelled call: the wait ends with the call too.
      await unlessPeerGoes(this.stream, () => new Promise<void>((resolve) => { this.waiting.push(resolve); }));
    }
  }
}

/**
 * Waits for `until`, or throws peerGoneError if the stream closes or is cancelled first: a peer that
 * vanishes never drains the buffer nor lets a message flush, and grpc-js then emits only 'cancelled'
 * (without this a handler waited forever and kept the store's lock; GC and shutdown waited with it).
 * One controller removes every listener whichever fires first: a long restore waits here thousands
 * of times, and a leftover listener per wait would pile up.
 */
async function unlessPeerGoes(stream: Writable, until: (signal: AbortSignal) => Promise<unknown>): Promise<void> {
  const controller = new AbortController();
  try {
    await Promise.race([
      until(controller.signal),
      once(stream, 'close', { signal: controller.signal }).then(() => { throw peerGoneError(); }),
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
