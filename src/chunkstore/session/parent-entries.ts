// The parent backup's entries, looked up by path while a backup streams in: paths arrive in
// walk order, which is nearly the catalog's path order, so a page read ahead answers most of
// them with one query per page instead of one per unchanged file.
import type { EntriesTable } from '../catalog/entries-table';
import type { StoredEntry } from '../catalog/records';

const PAGE_SIZE = 1000;

export class ParentEntries {
  private page = new Map<string, StoredEntry>();
  private pageFirst: Buffer | undefined;
  /** The page's last path; undefined once the page reaches the end of the backup. */
  private pageLast: Buffer | undefined;

  constructor(private readonly entries: EntriesTable, private readonly backupId: number) {}

  get(path: Buffer): StoredEntry | undefined {
    // Buffer.compare is SQLite's BLOB order (memcmp), so the page bounds are exact.
    if (this.pageFirst !== undefined && Buffer.compare(path, this.pageFirst) < 0) return this.entries.at(this.backupId, path);
    if (this.pageFirst === undefined || (this.pageLast !== undefined && Buffer.compare(path, this.pageLast) > 0)) this.readPageFrom(path);
    return this.page.get(path.toString('latin1'));
  }

  private readPageFrom(path: Buffer): void {
    const entries = this.entries.from(this.backupId, path, PAGE_SIZE);
    this.page = new Map(entries.map((entry) => [entry.path.toString('latin1'), entry]));
    this.pageFirst = path;
    this.pageLast = entries.length < PAGE_SIZE ? undefined : entries[entries.length - 1].path;
  }
}
