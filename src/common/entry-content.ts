// Which entry types carry content: a regular file, or a FIFO whose bytes were read (dumps,
// read_all_fifos). Folders, links and special files carry metadata only, and may still be hard links.
import { EntryType } from '../proto/cpsbackup';

export function carriesContent(type: EntryType): boolean {
  return type === EntryType.ENTRY_TYPE_FILE || type === EntryType.ENTRY_TYPE_FIFO_CONTENT;
}

const KNOWN_TYPES = new Set<EntryType>([
  EntryType.ENTRY_TYPE_FILE, EntryType.ENTRY_TYPE_DIRECTORY, EntryType.ENTRY_TYPE_SYMLINK, EntryType.ENTRY_TYPE_FIFO_CONTENT,
  EntryType.ENTRY_TYPE_FIFO, EntryType.ENTRY_TYPE_CHAR_DEVICE, EntryType.ENTRY_TYPE_BLOCK_DEVICE, EntryType.ENTRY_TYPE_SOCKET,
]);

export function isKnownEntryType(type: EntryType): boolean {
  return KNOWN_TYPES.has(type);
}

/** The bytes a sparse file's extents (offset, length pairs) hold: what its content carries. */
export function extentDataBytes(extents: readonly number[]): number {
  let data = 0;
  for (let index = 1; index < extents.length; index += 2) data += extents[index];
  return data;
}

/**
 * Types whose hard links are kept though they have no content (symlinks and special files): a later link
 * names its first path, as a file's does, and is restored as a link to it.
 */
export function isLinkedWithoutContent(type: EntryType): boolean {
  return LINKED_WITHOUT_CONTENT.has(type);
}

const LINKED_WITHOUT_CONTENT = new Set<EntryType>([
  EntryType.ENTRY_TYPE_SYMLINK, EntryType.ENTRY_TYPE_FIFO, EntryType.ENTRY_TYPE_SOCKET,
  EntryType.ENTRY_TYPE_CHAR_DEVICE, EntryType.ENTRY_TYPE_BLOCK_DEVICE,
]);
