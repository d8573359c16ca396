// The parent backup's entries, looked up by path while a backup streams in: paths arrive in
// walk order, which is nearly the catalog's path order, so a page read ahead answers most of
// them with one query per page instead of one per unchanged file.
import type { Catalog } from '../catalog/catalog';
import type { EntryWithContentSize } from '../catalog/entries-table';

/** A parent entry, with how many contents sweeps had deleted when it was read. */
export interface ParentEntry extends EntryWithContentSize {
  readonly contentsDeletedBefore: number;
}

const PAGE_SIZE = 1000;

export class ParentEntries {
  private page = new Map<string, ParentEntry>();
  private pageFirst: Buffer | undefined;
  /** The page's last path; undefined once the page reaches the end of the backup. */
  private pageLast: Buffer | undefined;

  constructor(private readonly catalog: Catalog, readonly backupId: number) {}

  get(path: Buffer): ParentEntry | undefined {
    // Buffer.compare is SQLite's BLOB order (memcmp), so the page bounds are exact.
    if (this.pageFirst !== undefined && Buffer.compare(path, this.pageFirst) < 0) {
      const contentsDeletedBefore = this.catalog.garbage.contentsDeleted;
      const found = this.catalog.entries.atWithContentSize(this.backupId, path);
      return found && { ...found, contentsDeletedBefore };
    }
    if (this.pageFirst === undefined || (this.pageLast !== undefined && Buffer.compare(path, this.pageLast) > 0)) this.readPageFrom(path);
    return this.page.get(path.toString('latin1'));
  }

  private readPageFrom(path: Buffer): void {
    const contentsDeletedBefore = this.catalog.garbage.contentsDeleted;
    const entries = this.catalog.entries.fromWithContentSize(this.backupId, path, PAGE_SIZE);
    this.page = new Map(entries.map((found) => [found.entry.path.toString('latin1'), { ...found, contentsDeletedBefore }]));
    this.pageFirst = path;
    this.pageLast = entries.length < PAGE_SIZE ? undefined : entries[entries.length - 1].entry.path;
  }
}
