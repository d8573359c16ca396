// What an entry waiting for its session's flush holds in memory, roughly. A session flushes by it as
// well as by count: 4,096 entries of a few hundred bytes each are nothing, but entries carrying large
// extent lists or many attributes must not pile up by the thousand before they are written.
import type { StoredEntry } from '../catalog/records';

/** The object, its Buffers and its content reference, about. */
const ENTRY_OVERHEAD = 512;
/** An attribute's object and its two Buffers, about. */
const XATTR_OVERHEAD = 200;
/** A number in a JavaScript array. */
const EXTENT_VALUE_BYTES = 8;
/** A chunk id of a content this session recorded (a number, or a promise of one while its pack is written). */
const CHUNK_REF_BYTES = 16;

/**
 * contentChunks: the chunk ids of a content recorded in this session (up to a million for a large file,
 * kept until the flush). An array a hard link shares with its first path is counted again for each link: then its session
 * flushes sooner than it needs to, never later.
 */
export function entryWeight(entry: Omit<StoredEntry, 'contentId'>, contentChunks = 0): number {
  let weight = ENTRY_OVERHEAD + entry.path.length + entry.linkTarget.length + EXTENT_VALUE_BYTES * entry.extents.length + CHUNK_REF_BYTES * contentChunks;
  for (const { name, value } of entry.xattrs) weight += XATTR_OVERHEAD + name.length + value.length;
  return weight;
}
