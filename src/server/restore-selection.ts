// Which entries of a backup a restore sends: everything, the given paths and what lies below them,
// and/or the paths matching a regular expression — each with the folders above it, so they come
// back with their own metadata. Folders are held back until something below them is sent.
import type { RestoreItem, StoredEntry } from '../chunkstore/read';
import { EntryType } from '../proto/cpsbackup';

const SLASH = 0x2f;

export class RestoreSelection {
  /** Folders not sent yet, outermost first: each an ancestor of the one after it. */
  private readonly pendingFolders: RestoreItem[] = [];

  constructor(private readonly paths: readonly Buffer[], private readonly regex: RegExp | undefined) {}

  get isEverything(): boolean {
    return this.paths.length === 0 && this.regex === undefined;
  }

  /** For the store's reader: folders always (decided later), other entries only when they match. */
  mayBeSelected(entry: StoredEntry): boolean {
    return entry.type === EntryType.ENTRY_TYPE_DIRECTORY || this.matches(entry.path);
  }

  /** The items of a page to send, in order: matching entries preceded by the folders above them. */
  filter(items: readonly RestoreItem[]): RestoreItem[] {
    if (this.isEverything) return [...items];
    const selected: RestoreItem[] = [];
    for (const item of items) {
      const path = item.entry.path;
      while (this.pendingFolders.length > 0 && !isBelow(path, this.pendingFolders[this.pendingFolders.length - 1].entry.path)) {
        this.pendingFolders.pop();
      }
      if (this.matches(path)) {
        selected.push(...this.pendingFolders.splice(0));
        selected.push(item);
      } else if (item.entry.type === EntryType.ENTRY_TYPE_DIRECTORY) {
        this.pendingFolders.push(item);
      }
    }
    return selected;
  }

  private matches(path: Buffer): boolean {
    if (this.paths.length > 0 && !this.paths.some((filter) => path.equals(filter) || isBelow(path, filter))) return false;
    return this.regex === undefined || this.regex.test(path.toString('utf8'));
  }
}

/** Whether path lies below folder ("/" holds everything). */
function isBelow(path: Buffer, folder: Buffer): boolean {
  if (folder.length === 1 && folder[0] === SLASH) return path.length > 1;
  return path.length > folder.length && path[folder.length] === SLASH && path.subarray(0, folder.length).equals(folder);
}
