// The parent backup's entries, looked up by path while a backup streams in: paths arrive in
// walk order, which is nearly the catalog's path order, so a page read ahead answers most of
// them with one query per page instead of one per unchanged file.
import type { Catalog } from '../chunkstore/catalog/catalog';
import type { StoredEntry } from '../chunkstore/catalog/records';

const PAGE_SIZE = 1000;

export class ParentEntries {
  private page = new Map<string, StoredEntry>();
  private pageFirst: string | undefined;
  /** The page's last path; undefined once the page reaches the end of the backup. */
  private pageLast: string | undefined;

  constructor(private readonly catalog: Catalog, private readonly backupId: number) {}

  get(path: string): StoredEntry | undefined {
    if (this.pageFirst !== undefined && path < this.pageFirst) return this.catalog.entryAt(this.backupId, path);
    if (this.pageFirst === undefined || (this.pageLast !== undefined && path > this.pageLast)) this.readPageFrom(path);
    // A miss inside the page is checked once more: JavaScript and SQLite order some characters
    // differently, so the page bounds only decide speed, never the answer.
    return this.page.get(path) ?? this.catalog.entryAt(this.backupId, path);
  }

  private readPageFrom(path: string): void {
    const entries = this.catalog.entriesFrom(this.backupId, path, PAGE_SIZE);
    this.page = new Map(entries.map((entry) => [entry.path, entry]));
    this.pageFirst = path;
    this.pageLast = entries.length < PAGE_SIZE ? undefined : entries[entries.length - 1].path;
  }
}
