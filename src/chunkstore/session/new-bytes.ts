// What a backup reports as new: the bytes its client did not hold before, wherever else the store
// holds them, and what its own copy of them would take stored. A count of bytes new to the store, or
// of the size another client's copy takes, would tell a client (its commit summary, its list, its
// quota usage) that another client has the same bytes: the "confirmation of a file" oracle dedup opens.
import type { ContentWriterContext, UsedChunk } from './content-writer';

/**
 * The session's record of a chunk it uses (clientHashes, by hex hash `key`; `hash` not a view into a
 * message), made at its first use in the session, pointed at the chunk's current row at each later
 * one. A chunk is counted once per session, at its first use: one used earlier in the session is the
 * client's own by its next flush.
 */
export function useChunk(context: ContentWriterContext, hash: Buffer, key: string, chunkId: number | undefined): { used: UsedChunk; isFirstUse: boolean } {
  const earlier = context.clientHashes.get(key);
  if (earlier !== undefined) {
    earlier.chunkId = chunkId;
    return { used: earlier, isFirstUse: false };
  }
  const used: UsedChunk = { hash, chunkId, storedSize: 0 };
  context.clientHashes.set(key, used);
  return { used, isFirstUse: true };
}

/**
 * For a chunk the store already had: what the client's own copy takes if the client held it before
 * the session, else undefined, and then the chunk is new to this backup. The caller then counts its
 * raw size and the stored size of the client's own copy (never the stored row's: that is the size of
 * whoever stored the bytes first, compressed their way or not at all), and charges it that size.
 */
export function heldCopySize(context: ContentWriterContext, hash: Buffer): number | undefined {
  return context.catalog.clientChunks.heldSize(context.clientId, hash);
}
