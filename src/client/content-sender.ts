// Streams one entry's bytes to the server in bounded Data frames, hashing as they go,
// then closes the entry with the whole-content hash and size for the server to check.
import { createHash } from 'node:crypto';
import type { UploadStream } from './upload-stream';
import { MAX_DATA_FRAME, PreparedData } from '../common/wire/fast-service';

export async function sendContent(stream: UploadStream, source: AsyncIterable<Buffer | PreparedData> | Iterable<Buffer>,
  onBytes: (count: number) => void): Promise<number> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const piece of source) {
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
