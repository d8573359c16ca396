// Which entry types carry content: a regular file, or a FIFO whose bytes were read (dumps,
// read_all_fifos). Folders, links and special files carry metadata only.
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
