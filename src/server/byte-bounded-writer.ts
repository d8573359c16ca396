// A server stream writer that waits on the bytes of content it has queued, not only on grpc-js's
// count of messages (restore messages carry up to 1 MiB of chunks each).
import { once } from 'node:events';
import { peerGoneError, unlessPeerGoes, type ServerStream } from './stream-write';
import { UnsentContent } from '../common/wire/unsent-content';

/**
 * grpc-js asks a writer to wait only once 16 messages are queued, whatever their size: for a restore,
 * 16 messages of up to 1 MiB of chunks each, held until grpc-js serializes and sends them one by one.
 * This writer also makes a message with content wait while more than `maxBytes` of content (as
 * `sizeOf` counts it) is not yet handed to HTTP/2; one message bigger than that goes alone.
 */
export class ByteBoundedWriter<T> {
  private readonly unsent = new UnsentContent();

  constructor(private readonly stream: ServerStream<T>, private readonly sizeOf: (message: T) => number, private readonly maxBytes: number) {}

  async write(message: T): Promise<void> {
    const bytes = this.sizeOf(message);
    const isAccepted = this.stream.write(message, this.unsent.written(bytes));
    if (this.stream.destroyed || this.stream.cancelled) throw peerGoneError();
    if (!isAccepted) await unlessPeerGoes(this.stream, (signal) => once(this.stream, 'drain', { signal }));
    // Only content waits for content: entries and ends go by grpc-js's own count.
    while (bytes > 0 && this.unsent.isOver(this.maxBytes)) {
      if (this.stream.destroyed || this.stream.cancelled) throw peerGoneError();
      // grpc-js never calls back for a message of a cancelled call: the wait ends with the call too.
      await unlessPeerGoes(this.stream, () => this.unsent.nextChange());
    }
  }
}
