// Which entry types carry content: a regular file, or a FIFO whose bytes were read (dumps,
// read_all_fifos). Folders and links carry metadata only.
import { EntryType } from '../proto/cpsbackup';

export function carriesContent(type: EntryType): boolean {
  return type === EntryType.ENTRY_TYPE_FILE || type === EntryType.ENTRY_TYPE_FIFO_CONTENT;
}
