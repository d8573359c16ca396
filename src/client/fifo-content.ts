// A read FIFO's content (read_all_fifos): whatever a writer puts in until it closes the FIFO, and none
// at all when no writer has it open. A failed read is told apart from a failed upload: an errno of the
// reads is a FileReadError (that FIFO is not in the backup, the backup goes on), as a regular file's is;
// anything else, and every error of the upload, ends the backup.
import { closeSync, readSync } from 'node:fs';
import { Socket } from 'node:net';
import { fileReadErrorOr } from './file-content';

/** What one read before the socket's takes at most. */
const READ_NOW_BYTES = 64 * 1024;

export class FifoContent {
  private socket: Socket | undefined;
  private isClosed = false;
  private hasRead = false;
  /**
   * No writer had the FIFO open when it was read, and it held nothing: stored as empty, though what it was
   * read for never came (a writer that backup_script_pre started in the background is stopped with it).
   */
  hadNoWriter = false;

  /** fd: the FIFO opened for reading, non-blocking; this closes it (at its end, or destroy()). */
  constructor(private readonly fd: number) {}

  async *pieces(): AsyncGenerator<Buffer> {
    try {
      // Reads before the socket's: Linux tells epoll nothing of a FIFO opened with no writer until a writer
      // has come (fifo_open: "suppress EPOLLHUP until we have seen a writer"), so the socket waited for ever
      // on a FIFO nobody writes, and with it the whole backup. read() says 0 at once when no writer has it
      // (bytes a writer left before it went, while another reader held it open, are read here to that end).
      // EAGAIN: a writer has it open, and epoll will report its close: from then on the socket reads.
      for (;;) {
        const piece = this.readNow();
        if (piece === undefined) {
          this.hadNoWriter = !this.hasRead;
          this.close();
          return;
        }
        this.hasRead = true;
        if (piece.length === 0) break;
        yield piece;
      }
      this.socket = new Socket({ fd: this.fd, readable: true, writable: false });
      for await (const piece of this.socket) yield piece as Buffer;
    } catch (error) {
      throw fileReadErrorOr(error);
    }
  }

  /**
   * Stops reading and closes the FIFO (a failed upload, or a read error): the daemon must not keep its fd.
   * With a reason, a read waiting on a writer that writes nothing ends with it (never as the content's end).
   */
  destroy(reason?: Error): void {
    if (this.socket !== undefined) this.socket.destroy(reason);
    else this.close();
  }

  /** What one read() gives now: bytes, none yet (EAGAIN: a writer has it open), or undefined at the end (no writer). */
  private readNow(): Buffer | undefined {
    const buffer = Buffer.allocUnsafe(READ_NOW_BYTES);
    try {
      const length = readSync(this.fd, buffer, 0, buffer.length, null);
      return length === 0 ? undefined : buffer.subarray(0, length);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EAGAIN') return Buffer.alloc(0);
      throw error;
    }
  }

  private close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    closeSync(this.fd);
  }
}
