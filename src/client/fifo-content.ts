// A read FIFO's content (read_all_fifos) as its socket gives it, with a failed read told apart from a
// failed upload: an errno of the reads is a FileReadError (that FIFO is not in the backup, the backup
// goes on), as a regular file's is; anything else, and every error of the upload, ends the backup.
import type { Socket } from 'node:net';
import { fileReadErrorOr } from './file-content';

export async function* fifoContent(socket: Socket): AsyncGenerator<Buffer> {
  try {
    for await (const piece of socket) yield piece as Buffer;
  } catch (error) {
    throw fileReadErrorOr(error);
  }
}
