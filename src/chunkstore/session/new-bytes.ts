// What a backup reports as new: the bytes its client did not hold before, wherever else the store
// holds them, and what its own copy of them would take stored. A count of bytes new to the store, or
// of the size another client's copy takes, would tell a client (its commit summary, its list) that
// another client has the same bytes: the "confirmation of a file" oracle dedup opens.
import type { ContentWriterContext } from './content-writer';

/**
 * Whether a chunk the store already had counts as new for this backup: its client did not hold it.
 * isFirstUse: the session had not used the chunk yet (it is counted once per session, and a chunk
 * used earlier in the session is the client's own by its next flush). The caller counts the chunk's
 * raw size and the stored size of the client's own copy (never the stored row's: that is the size
 * of whoever stored the bytes first, compressed their way or not at all).
 */
export function isChunkNewToClient(context: ContentWriterContext, hash: Buffer, isFirstUse: boolean): boolean {
  return isFirstUse && !context.catalog.clientChunks.holds(context.clientId, hash);
}
