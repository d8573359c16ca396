// What an entry's own metadata takes in the catalog, as ENTRY_METADATA_BYTES_SQL measures the stored
// row: the bytes its client chose (path, link target, owner names, the xattrs' and extents' encoded
// lists). A backup of folders with megabytes of xattrs each and no content stored none of it where
// it counted. The same measure while the backup runs and in the usage after its commit: a backup kept
// within its bound must not commit past it. The fixed fields are left out: a few dozen bytes each.
import type { StoredEntry } from '../catalog/records';
import { varintLength } from '../../common/wire/varint';

export function entryMetadataBytes(entry: Omit<StoredEntry, 'contentId'>): number {
  let bytes = entry.path.length + entry.linkTarget.length + Buffer.byteLength(entry.user) + Buffer.byteLength(entry.group);
  for (const { name, value } of entry.xattrs) bytes += varintLength(name.length) + name.length + varintLength(value.length) + value.length;
  for (const value of entry.extents) bytes += varintLength(value);
  return bytes;
}
