// A content as its stored chunks, for a protocol-2 client that decodes and checks each one itself:
// the server reads and checks record headers only, and the client's hash checks cover every byte.
import type { EncodedChunk, RestoreResponse } from '../proto/cpsbackup';
import type { ContentSource } from '../chunkstore/read';
import { CorruptError, errorMessage } from '../common/errors';
import { MAX_DATA_FRAME } from '../common/wire/fast-service';
import type { ByteBoundedWriter } from './byte-bounded-writer';

/** A small content's chunks in one list (it goes inline in a batch); throws CorruptError for damage. */
export async function storedChunksOf(content: ContentSource): Promise<EncodedChunk[]> {
  const chunks: EncodedChunk[] = [];
  let size = 0;
  // Read and verified already (its run of the pack came in for an earlier file): no promise per chunk.
  const ready = content.storedIfRead?.();
  if (ready !== undefined) {
    for (const { hash, rawSize, stored } of ready) {
      chunks.push({ hash, rawSize, codec: stored.codec, payload: stored.payload });
      size += rawSize;
    }
    if (size !== content.size) throw new CorruptError(`its chunks add up to ${size} bytes, recorded ${content.size}`);
    return chunks;
  }
  for await (const chunk of content.chunks()) {
    const stored = await chunk.stored();
    chunks.push({ hash: chunk.hash, rawSize: chunk.rawSize, codec: stored.codec, payload: stored.payload });
    size += chunk.rawSize;
  }
  if (size !== content.size) throw new CorruptError(`its chunks add up to ${size} bytes, recorded ${content.size}`);
  return chunks;
}

/**
 * Streams a content's chunks in ChunkBatch messages of about MAX_DATA_FRAME payload bytes. Returns
 * the content hash for EntryEnd, or the damage that cut it short (the client drops what it got).
 */
export async function streamStoredContent(output: ByteBoundedWriter<RestoreResponse>,
  content: ContentSource): Promise<{ sha256: Buffer; damage?: string }> {
  let batch: EncodedChunk[] = [];
  let batchBytes = 0;
  let size = 0;
  const send = async (): Promise<void> => {
    const chunks = batch;
    batch = [];
    batchBytes = 0;
    await output.write({ message: { $case: 'chunks', value: { chunks } } });
  };
  try {
    for await (const chunk of content.chunks()) {
      const stored = await chunk.stored();
      if (batchBytes + stored.payload.length > MAX_DATA_FRAME && batch.length > 0) await send();
      batch.push({ hash: chunk.hash, rawSize: chunk.rawSize, codec: stored.codec, payload: stored.payload });
      batchBytes += stored.payload.length;
      size += chunk.rawSize;
    }
    if (batch.length > 0) await send();
    if (size !== content.size) throw new CorruptError(`its chunks add up to ${size} bytes, recorded ${content.size}`);
    return { sha256: content.hash };
  } catch (error) {
    if (!(error instanceof CorruptError)) throw error;
    return { sha256: content.hash, damage: errorMessage(error) };
  }
}
