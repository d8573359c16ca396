// A BatchedEntry with every field it does not set left empty: the one place that knows them all.
import type { BatchedEntry, EncodedChunk, EntryMeta } from '../../proto/cpsbackup';

const NOTHING = Buffer.alloc(0);
const NO_CHUNKS: readonly EncodedChunk[] = Object.freeze([]);

export function batchedEntry(meta: EntryMeta | undefined, fields: Partial<Omit<BatchedEntry, 'meta'>> = {}): BatchedEntry {
  return {
    meta, sameAsParent: fields.sameAsParent ?? false, content: fields.content ?? NOTHING, sha256: fields.sha256 ?? NOTHING,
    chunks: fields.chunks ?? (NO_CHUNKS as EncodedChunk[]), chunkHashes: fields.chunkHashes ?? NOTHING, carried: fields.carried,
  };
}
