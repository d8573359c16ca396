// Streams one entry's bytes to the server in bounded Data frames, hashing as they go, then closes
// the entry with the whole-content hash and size for the server to check. A source that fails to
// read midway closes the entry with the reason instead: the server drops it, nothing half is kept.
import { createHash } from 'node:crypto';
import type { UploadStream } from './upload-stream';
import { MAX_DATA_FRAME, PreparedData } from '../common/wire/fast-service';
import { errorMessage } from '../common/errors';

/** The source could not be read to its end; the server was told to drop the entry. */
export class UnreadableContentError extends Error {
  constructor(readonly reason: unknown) {
    super(`content could not be read: ${errorMessage(reason)}`);
  }
}

export async function sendContent(stream: UploadStream, source: AsyncIterable<Buffer | PreparedData> | Iterable<Buffer>,
  onBytes: (count: number) => void): Promise<number> {
  const hash = createHash('sha256');
  let size = 0;
  const iterator = (Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : (source as Iterable<Buffer>)[Symbol.iterator]()) as
    AsyncIterator<Buffer | PreparedData> | Iterator<Buffer>;
  for (;;) {
    let next: IteratorResult<Buffer | PreparedData>;
    try {
      next = await iterator.next();
    } catch (error) {
      await stream.send({ message: { $case: 'entryEnd', value: { sha256: Buffer.alloc(0), size, damage: `cannot be read: ${errorMessage(error)}` } } });
      throw new UnreadableContentError(error);
    }
    if (next.done) break;
    const piece = next.value;
    const bytes = piece instanceof PreparedData ? piece.chunk : piece;
    hash.update(bytes);
    size += bytes.length;
    if (piece instanceof PreparedData) {
      await stream.send({ message: { $case: 'data', value: piece } }); // one frame at most, sent as it is
    } else {
      for (let offset = 0; offset < piece.length; offset += MAX_DATA_FRAME) {
        await stream.send({ message: { $case: 'data', value: { chunk: piece.subarray(offset, offset + MAX_DATA_FRAME) } } });
      }
    }
    onBytes(bytes.length);
  }
  await stream.send({ message: { $case: 'entryEnd', value: { sha256: hash.digest(), size, damage: '' } } });
  return size;
}
