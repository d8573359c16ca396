// What one backup entry's metadata may hold, for both sides: an entry travels whole in one gRPC message
// (maxMessageBytes, 4 MiB), and one too big for it made the whole backup fail, every night.
import type { EntryMeta } from '../proto/cpsbackup';
import { sizeEntryMeta } from './wire/entry-meta-writer';

/**
 * Data extents (offset, length pairs) one entry may list. 65,536 pairs take at most 1 MiB encoded (8
 * bytes a value, for offsets past 2^49), about 600 KiB for a file under 32 GiB; a 10 GB table punched
 * every 16 KiB has 650,000, about 5 MB. The client fills a file's smallest holes until it has no more.
 */
export const MAX_EXTENTS = 65_536;

/**
 * Encoded metadata one entry may take. The message holding it also holds the batch gathered before it
 * (under 1 MiB, MAX_BATCH_BYTES) and its inline content (up to 1 MiB, INLINE_MAX_CONTENT) or chunk list
 * (up to 512 KiB): 3.5 MiB in all, the rest of the 4 MiB headroom (entry-limits.test.ts holds them to it).
 * A path (at most 64 KiB) and MAX_EXTENTS always fit: only extended attributes can take an entry past it.
 */
export const MAX_ENTRY_METADATA_BYTES = 1536 * 1024;

/**
 * Why the entry's metadata cannot travel (its extended attributes, in practice: XFS lets one file have
 * ~70 of 64 KiB), or undefined when it fits. Sized only when it has xattrs or extents: every other
 * entry fits, and sizing each one twice would cost a tree of many small files time.
 */
export function entryMetadataProblem(meta: EntryMeta): string | undefined {
  if (meta.xattrs.length === 0 && meta.extents.length === 0) return undefined;
  const total = sizeEntryMeta(meta).length;
  if (total <= MAX_ENTRY_METADATA_BYTES) return undefined;
  const withoutXattrs = sizeEntryMeta({ ...meta, xattrs: [] }).length;
  if (withoutXattrs >= MAX_ENTRY_METADATA_BYTES) {
    return `its metadata takes ${total} bytes, more than one backup entry can carry (${MAX_ENTRY_METADATA_BYTES})`;
  }
  return `its extended attributes take ${total - withoutXattrs} bytes, more than one backup entry can carry (${MAX_ENTRY_METADATA_BYTES - withoutXattrs})`;
}
