// What a backup reports as new: the bytes its client did not hold before, wherever else the store
// holds them. A count of bytes new to the store would tell a client (its commit summary, its list)
// that another client has the same bytes: the "confirmation of a file" oracle dedup opens.
import type { KnownChunk } from '../catalog/chunks-table';
import type { ContentWriterContext } from './content-writer';

/**
 * Counts a chunk the store already had as new for this backup when its client did not hold it.
 * isFirstUse: the session had not used the chunk yet (it is counted once per session, and a chunk
 * used earlier in the session is the client's own by its next flush).
 */
export function countChunkNewToClient(context: ContentWriterContext, hash: Buffer, known: KnownChunk, isFirstUse: boolean): void {
  if (!isFirstUse || context.catalog.clientChunks.holds(context.clientId, hash)) return;
  context.stored.newBytes += known.rawSize;
  context.stored.storedBytes += known.storedSize;
}
