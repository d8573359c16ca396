// Writes messages to a grpc-js stream and waits when its buffer is full, so a slow peer slows the
// sender instead of growing memory (for calls whose messages carry content, see byte-bounded-writer.ts).
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { BackupError, LimitError } from '../common/errors';
import { drainLimitOf } from './drain-limit';
import { resetCallStream } from './transport/call-stream-reset';

/** A grpc-js server stream: besides 'close' it says 'cancelled' when the peer goes away. */
export type ServerStream<T> = Writable & { write(message: T, callback?: () => void): boolean; readonly cancelled?: boolean };

export async function writeWithBackpressure<T>(stream: ServerStream<T>, message: T): Promise<void> {
  if (stream.write(message)) return;
  if (stream.destroyed || stream.cancelled) throw peerGoneError();
  await unlessPeerGoes(stream, (signal) => once(stream, 'drain', { signal }));
}

/**
 * Waits for `until`, or throws peerGoneError if the stream closes or is cancelled first: a peer that
 * vanishes never drains the buffer nor lets a message flush, and grpc-js then emits only 'cancelled'
 * (without this a handler waited forever and kept the store's lock; GC and shutdown waited with it).
 * A peer that stays but reads nothing gets the stream's drain limit (drain-limit.ts), then a LimitError,
 * its stream reset so that the call ends for the client too.
 * One controller removes every listener whichever fires first: a long restore waits here thousands
 * of times, and a leftover listener per wait would pile up.
 */
export async function unlessPeerGoes(stream: Writable, until: (signal: AbortSignal) => Promise<unknown>): Promise<void> {
  const limit = drainLimitOf(stream);
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      until(controller.signal),
      once(stream, 'close', { signal: controller.signal }).then(() => { throw peerGoneError(); }),
      once(stream, 'cancelled', { signal: controller.signal }).then(() => { throw peerGoneError(); }),
      new Promise<never>((_resolve, reject) => {
        // Ended only when the client took nothing at all for the limit: a wait for 'drain' lasts until it took
        // all 16 queued messages, which a restore of small files onto a slow disk may take longer than the
        // limit to do while it reads steadily (review of 9d41c99). Each message taken re-arms the limit.
        let queued = stream.writableLength;
        const arm = (): void => {
          timer = setTimeout(() => {
            if (stream.writableLength < queued) {
              queued = stream.writableLength;
              arm();
              return;
            }
            const isReset = resetCallStream(stream);
            const seconds = limit.milliseconds / 1000;
            reject(new LimitError(`${limit.caller} took nothing the server sent for ${seconds} s (${limit.setting}); the call was ended`,
              isReset ? undefined : 'its HTTP/2 stream could not be reset (grpc-js internals moved): it stays open until the client goes'));
          }, limit.milliseconds);
          // The call's socket keeps the process up while it waits; a leftover timer must not, after the call is gone.
          timer.unref();
        };
        arm();
      }),
    ]);
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

/** A warning in the server log, not an internal error: clients die, get killed and run out of disk. */
export function peerGoneError(): BackupError {
  return new BackupError('INTERRUPTED', 'the client cancelled the call or went away');
}
