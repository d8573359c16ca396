// Which entries of a backup a restore sends: everything, the given paths and what lies below them,
// and/or the paths matching a regular expression — each with the folders above it, so they come
// back with their own metadata. Folders are held back until something below them is sent. With the
// dumps left out, neither they nor the folders holding them are selected (those come only above others).
import type { RestoreItem, StoredEntry } from '../chunkstore/read';
import { EntryType } from '../proto/cpsbackup';
import { isDumpEntry } from '../common/dump-entry';
import { escapeBytes } from '../common/escape-bytes';
import type { PathMatcher } from './pattern/path-matcher';
import { SelectedPaths } from './selected-paths';

const SLASH = 0x2f;

export class RestoreSelection {
  /**
   * Folders not sent yet whose entries may still come, in path order: the ancestors of the last entry,
   * and folders whose name that entry's extends with a byte that sorts before '/' (at most one per byte of it).
   */
  private pendingFolders: RestoreItem[] = [];
  /** Entries of the current page that matched, decided once in select() (the pattern's cost is paid once per entry). */
  private matched = new WeakSet<StoredEntry>();

  private constructor(private readonly selectedPaths: SelectedPaths | undefined, private readonly matcher: PathMatcher | undefined,
    private readonly dumpFolders: ReadonlySet<string> | undefined) {}

  /**
   * `matcher` tests the regular expression in a worker thread; the caller closes it. `clientName`: who asked, for a refusal.
   * `dumpFolders` (foldersHoldingDumps): set when the dumps are left out, whatever else is selected.
   */
  static async create(paths: readonly Buffer[], matcher: PathMatcher | undefined, clientName: string,
    dumpFolders?: ReadonlySet<string>): Promise<RestoreSelection> {
    return new RestoreSelection(paths.length === 0 ? undefined : await SelectedPaths.index(paths, clientName), matcher, dumpFolders);
  }

  get isEverything(): boolean {
    return this.selectedPaths === undefined && this.matcher === undefined && this.dumpFolders === undefined;
  }

  /**
   * For the store's reader, a page at a time: folders always (decided later in filter), other entries
   * only when they match. Decides every entry of the page, folders included.
   */
  async select(entries: readonly StoredEntry[]): Promise<StoredEntry[]> {
    this.matched = new WeakSet();
    let candidates = this.selectedPaths === undefined ? entries : entries.filter((entry) => this.selectedPaths!.covers(entry.path));
    if (this.dumpFolders !== undefined) candidates = candidates.filter((entry) => !isDumpOrHoldsOne(entry, this.dumpFolders!));
    if (this.matcher === undefined) {
      for (const entry of candidates) this.matched.add(entry);
    } else {
      // On the path as -s lists it (\xNN a byte that is not UTF-8, \\ a backslash), as --find and --include
      // take it: decoded as UTF-8, two names that differ in such bytes read alike and could not be told apart.
      const verdicts = await this.matcher.match(candidates.map((entry) => escapeBytes(entry.path)));
      candidates.forEach((entry, index) => { if (verdicts[index] === 1) this.matched.add(entry); });
    }
    return entries.filter((entry) => entry.type === EntryType.ENTRY_TYPE_DIRECTORY || this.matched.has(entry));
  }

  /** The items of a page that select() decided, to send in order: matching entries preceded by the folders above them. */
  filter(items: readonly RestoreItem[]): RestoreItem[] {
    if (this.isEverything) return [...items];
    const selected: RestoreItem[] = [];
    for (const item of items) {
      const path = item.entry.path;
      // Not a stack: in byte order "/a-b" comes between "/a" and "/a/f", and "/a" must still be there for "/a/f".
      if (this.pendingFolders.some((folder) => !mayHoldLater(folder.entry.path, path))) {
        this.pendingFolders = this.pendingFolders.filter((folder) => mayHoldLater(folder.entry.path, path));
      }
      if (this.matched.has(item.entry)) {
        const above = this.pendingFolders.filter((folder) => isBelow(path, folder.entry.path));
        if (above.length > 0) this.pendingFolders = this.pendingFolders.filter((folder) => !above.includes(folder));
        selected.push(...above, item);
      } else if (item.entry.type === EntryType.ENTRY_TYPE_DIRECTORY) {
        this.pendingFolders.push(item);
      }
    }
    return selected;
  }
}

/** A folder holding a dump is sent only above something else: the dump may be all it holds. */
function isDumpOrHoldsOne(entry: StoredEntry, dumpFolders: ReadonlySet<string>): boolean {
  if (isDumpEntry(entry)) return true;
  return entry.type === EntryType.ENTRY_TYPE_DIRECTORY && dumpFolders.has(entry.path.toString('latin1'));
}

/**
 * Whether entries below folder may come at or after path in byte order: path lies below it, or extends its
 * name with a byte that sorts before '/' ("/a-b" after "/a"). Any other later path is past all of them.
 */
function mayHoldLater(folder: Buffer, path: Buffer): boolean {
  if (folder.length === 1 && folder[0] === SLASH) return true;
  return path.length > folder.length && path[folder.length] <= SLASH && path.subarray(0, folder.length).equals(folder);
}

/** Whether path lies below folder ("/" holds everything). */
function isBelow(path: Buffer, folder: Buffer): boolean {
  if (folder.length === 1 && folder[0] === SLASH) return path.length > 1;
  return path.length > folder.length && path[folder.length] === SLASH && path.subarray(0, folder.length).equals(folder);
}
