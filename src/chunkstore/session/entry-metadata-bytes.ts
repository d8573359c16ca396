// What an entry's own metadata takes in the catalog, about (as ENTRY_METADATA_BYTES_SQL measures a stored row): the bytes its client chose (names, link
// target, attributes, extents), which a backup of folders with megabytes of xattrs each and no content
// stored without a byte of it counting anywhere. The fixed fields are left out: a few dozen bytes each.
import type { StoredEntry } from '../catalog/records';

/** An extent bound as the catalog stores it (extents BLOB, a varint): at most this. */
const EXTENT_VALUE_BYTES = 8;

export function entryMetadataBytes(entry: Omit<StoredEntry, 'contentId'>): number {
  let bytes = entry.path.length + entry.linkTarget.length + Buffer.byteLength(entry.user) + Buffer.byteLength(entry.group)
    + EXTENT_VALUE_BYTES * entry.extents.length;
  for (const { name, value } of entry.xattrs) bytes += name.length + value.length;
  return bytes;
}
