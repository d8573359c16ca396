// What a restore message carries of file content, for ByteBoundedWriter: its chunks, bytes and
// inline contents. Entries, ends, summaries and the metadata in batches count as nothing; grpc-js's
// own count of 16 messages bounds those.
import type { RestoreResponse } from '../proto/cpsbackup';

export function restoreContentBytes(response: RestoreResponse): number {
  const message = response.message;
  switch (message?.$case) {
    case 'data': return message.value.chunk.length;
    case 'chunks': return message.value.chunks.reduce((sum, chunk) => sum + chunk.payload.length, 0);
    case 'batch': return message.value.entries.reduce((sum, entry) => sum + entry.content.length
      + entry.chunks.reduce((chunkSum, chunk) => chunkSum + chunk.payload.length, 0), 0);
    default: return 0;
  }
}
