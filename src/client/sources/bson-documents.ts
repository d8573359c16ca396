// Splits a stream of concatenated BSON documents (mongodump's .bson format) into one Buffer each.
// Each document starts with its int32 little-endian length, so no parsing is needed to split.
import { CorruptError } from '../../common/errors';

/** MongoDB's own limit is 16 MiB; a larger length means a damaged or foreign file. */
const MAXIMUM_DOCUMENT_BYTES = 16 * 1024 * 1024 + 16 * 1024;
const MINIMUM_DOCUMENT_BYTES = 5;

export async function* bsonDocuments(chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let pending: Buffer = Buffer.alloc(0);
  for await (const chunk of chunks) {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    let offset = 0;
    while (pending.length - offset >= 4) {
      const size = pending.readInt32LE(offset);
      if (size < MINIMUM_DOCUMENT_BYTES || size > MAXIMUM_DOCUMENT_BYTES) {
        throw new CorruptError(`BSON document of impossible size ${size}`);
      }
      if (pending.length - offset < size) break;
      yield pending.subarray(offset, offset + size);
      offset += size;
    }
    pending = pending.subarray(offset);
  }
  if (pending.length > 0) throw new CorruptError(`BSON stream ends inside a document (${pending.length} bytes left)`);
}
