// How the streamed answers made of entries (Show, Diff, Find, Parent) cut their batches by bytes as well
// as by count: cut by count alone, 1000 symlinks with 4 KiB targets made a Show or Diff over 4 MiB.
import type { EntryMeta } from '../proto/cpsbackup';

/**
 * A batch is sent once its entries take this much. The entry that tips it over may take up to 1.5 MiB
 * (common/entry-limits.ts), a Diff's two of them 3 MiB: the message stays under the 4 MiB cap.
 */
export const ENTRY_BATCH_BYTES = 512 * 1024;

/** 14 numbers of at most 11 bytes with their tags, seven tags and lengths of bytes and string fields, the entry's own tag and length. */
const ENTRY_FIXED_BYTES = 210;
/** An extended attribute's tag and length, and its name's and value's. */
const XATTR_FRAMING_BYTES = 12;
/** A number of the packed extents, at most. */
const EXTENT_BYTES = 10;
/** A UTF-16 unit of an owner's name takes at most this many bytes in UTF-8. */
const UTF8_PER_UNIT = 3;

/**
 * At least the bytes the entry takes in a batch (never less), counted without encoding it: Parent sends
 * every entry of a backup, and measuring each one exactly would cost a no-change backup of many files time.
 */
export function entryBatchBytes(meta: EntryMeta): number {
  let bytes = ENTRY_FIXED_BYTES + meta.path.length + meta.linkTarget.length + meta.hardlinkTarget.length
    + UTF8_PER_UNIT * (meta.user.length + meta.group.length + meta.damage.length) + EXTENT_BYTES * meta.extents.length;
  for (const xattr of meta.xattrs) bytes += xattr.name.length + xattr.value.length + XATTR_FRAMING_BYTES;
  return bytes;
}
