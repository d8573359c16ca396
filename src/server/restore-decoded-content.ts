// A content as bytes, for a client older than protocol 2: each chunk decoded and verified here, and the
// hash of the whole file computed on the way, since such a client checks that rather than chunks.
import { createHash } from 'node:crypto';
import type { RestoreResponse } from '../proto/cpsbackup';
import type { ChunkToDecode, ContentSource } from '../chunkstore/read';
import { CorruptError, errorMessage } from '../common/errors';
import { MAX_DATA_FRAME, PreparedData } from '../common/wire/fast-service';
import type { ByteBoundedWriter } from './byte-bounded-writer';

/** A small content whole, with the hash of its bytes; throws CorruptError for damage. */
export async function decodedWholeOf(content: ContentSource): Promise<{ bytes: Buffer; sha256: Buffer }> {
  const bytes = await content.readWhole();
  return { bytes, sha256: createHash('sha256').update(bytes).digest() };
}

/** Streams a content's bytes in Data frames; returns the whole file's hash, or the damage that cut it short. */
export async function streamDecodedContent(output: ByteBoundedWriter<RestoreResponse>,
  content: ContentSource): Promise<{ sha256: Buffer; damage?: string }> {
  const hash = createHash('sha256');
  let size = 0;
  // Chunks go out gathered into frames of up to MAX_DATA_FRAME (a message per 128 KiB chunk cost
  // more in framing), each decoded straight into its place in the serialized message.
  let gathered: ChunkToDecode[] = [];
  let gatheredBytes = 0;
  const sendGathered = async (): Promise<void> => {
    const chunks = gathered;
    const frame = new PreparedData(gatheredBytes);
    gathered = [];
    gatheredBytes = 0;
    let offset = 0;
    for (const chunk of chunks) {
      await chunk.decode(frame.chunk.subarray(offset, offset + chunk.rawSize));
      offset += chunk.rawSize;
    }
    hash.update(frame.chunk);
    await output.write({ message: { $case: 'data', value: frame } });
  };
  try {
    for await (const chunk of content.chunks()) {
      size += chunk.rawSize;
      if (chunk.rawSize > MAX_DATA_FRAME) {
        // A store made with chunks bigger than a frame: decoded alone, sent in frame-sized slices.
        if (gatheredBytes > 0) await sendGathered();
        const bytes = await chunk.decode();
        hash.update(bytes);
        for (let offset = 0; offset < bytes.length; offset += MAX_DATA_FRAME) {
          await output.write({ message: { $case: 'data', value: { chunk: bytes.subarray(offset, offset + MAX_DATA_FRAME) } } });
        }
        continue;
      }
      if (gatheredBytes + chunk.rawSize > MAX_DATA_FRAME) await sendGathered();
      gathered.push(chunk);
      gatheredBytes += chunk.rawSize;
    }
    if (gatheredBytes > 0) await sendGathered();
    if (size !== content.size) throw new CorruptError(`reassembled content is ${size} bytes, recorded ${content.size}`);
    return { sha256: hash.digest() };
  } catch (error) {
    if (!(error instanceof CorruptError)) throw error;
    return { sha256: Buffer.alloc(0), damage: errorMessage(error) };
  }
}
