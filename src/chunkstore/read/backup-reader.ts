// The store's read API for one backup: its entries in path order, a page at a time, each with
// where its content comes from. Hard links within the backup (files, symlinks, special files) come
// back as links to the first selected path of their group. Its reader lease holds each pack it takes a chunk location
// in, so GC never deletes a pack under it, and only those: what it never named goes on time however slowly it reads.
import type { PackBackend } from '../backend/pack-backend';
import type { Catalog } from '../catalog/catalog';
import type { BackupRecord, ChunkLocation, StoredEntry } from '../catalog/records';
import type { ChunkCodec } from '../codec';
import type { RecordFraming } from '../pack/record-framing';
import { ChunkRunReader } from '../pack/chunk-run-reader';
import { listedContent, pagedContent, type ContentSource, type OnDamagedChunk } from './content-source';
import type { ReaderLease } from './reader-leases';
import { assertStillCommitted } from './still-committed';
import { extentDataBytes, isLinkedWithoutContent } from '../../common/entry-content';
import { LoopYield } from '../../common/loop-yield';

export interface RestoreItem {
  readonly entry: StoredEntry;
  /** Set for an entry with content, unless it is a hard link (hardlinkTo) or its content is damaged (damage). */
  readonly content?: ContentSource;
  /** An earlier item of this restore with the same inode: recreate as a link to it, no content follows. */
  readonly hardlinkTo?: Buffer;
  /** Why the content cannot be read at all (a catalog row is missing), or the entry not restored (its own fields are damaged). */
  readonly damage?: string;
}

export interface ReaderOptions {
  /**
   * The entries of a page to read (default: all), in their order. Entries it leaves out are left out before hard
   * links are grouped. Asynchronous: a client's pattern is matched in a worker thread, off the event loop.
   */
  readonly select?: (entries: readonly StoredEntry[]) => Promise<readonly StoredEntry[]>;
  /** Hard links come back as links to the first selected path of their group (default true). */
  readonly linksHardlinks?: boolean;
  /**
   * The client drops this many leading components of every path (-i --strip) and restores no entry of that many
   * components or fewer but a folder: a hard-link group starts at its first deeper path, whose name is kept.
   */
  readonly stripsComponents?: number;
}

const ENTRY_PAGE_SIZE = 1000;
const SLASH = 0x2f;
/** Contents up to this size come with their chunk list in the page query (and are read in runs). */
const LISTED_CHUNKS_UP_TO = 16 * 1024 * 1024;

export class BackupReader {
  /** First restored path of each hard-link group (device:inode) among selected entries. */
  private readonly linkGroups = new Map<string, Buffer>();
  private isClosed = false;
  private readonly loopYield = new LoopYield();

  constructor(
    private readonly catalog: Catalog,
    private readonly backend: PackBackend,
    private readonly codec: ChunkCodec,
    private readonly framing: RecordFraming,
    private readonly lease: ReaderLease,
    readonly backup: BackupRecord,
    private readonly options: ReaderOptions,
    /** Told of each chunk a read of this backup found damaged (the store marks it). */
    private readonly onDamage?: OnDamagedChunk,
  ) {}

  /** Pages of selected entries in path order. Read each page's contents in order before asking for the next. */
  async *pages(): AsyncGenerator<RestoreItem[]> {
    let after: Buffer = Buffer.alloc(0);
    while (!this.isClosed) {
      // Pages with nothing selected are never handed over, and a consumer may take the others without waiting:
      // without a turn here a selection that matched nothing read the whole backup while no other call was served.
      await this.loopYield.turn();
      if (this.isClosed) return;
      // Checked before every page, in the same turn as its query: a backup deleted meanwhile would otherwise read as
      // one that ends here (a restore reporting success with files missing), and a reused row id as another backup.
      assertStillCommitted(this.catalog, this.backup);
      const page = this.catalog.pages.entriesWithContents(this.backup.id, this.backup.clientId, after, ENTRY_PAGE_SIZE, LISTED_CHUNKS_UP_TO);
      if (page.entries.length === 0) return;
      // A short page is the backup's last: asking for another once its items are restored would find the backup
      // deleted meanwhile (-d, retention) and fail a restore that had received every entry.
      const isLastPage = page.entries.length < ENTRY_PAGE_SIZE;
      // In the query's turn, before selecting (a worker thread) lets GC move the chunks and doom their packs meanwhile.
      this.holdPacksOf(page.contents.values());
      after = page.entries[page.entries.length - 1].path;
      const select = this.options.select;
      const entries = select === undefined ? page.entries : await select(page.entries);
      if (entries.length === 0) {
        if (isLastPage) return;
        continue;
      }
      // Every listed chunk of the page, in the order the items will ask for them.
      const locations: ChunkLocation[] = [];
      const firstChunk = new Map<StoredEntry, number>();
      for (const entry of entries) {
        const chunks = entry.contentId === null ? undefined : page.contents.get(entry.contentId)?.chunks;
        if (chunks === undefined || chunks.includes(null)) continue;
        firstChunk.set(entry, locations.length);
        locations.push(...(chunks as ChunkLocation[]));
      }
      const runs = new ChunkRunReader(this.backend, locations, this.codec, this.framing);
      yield entries.map((entry): RestoreItem => {
        // Its attribute or extent list does not decode: the file is named as not restorable, the restore goes on.
        // Before its link group is looked at, so that another link of it is restored in its place.
        if (entry.damage !== undefined && entry.contentId !== null) return { entry, damage: entry.damage };
        const hardlinkTo = this.linkTarget(entry);
        if (entry.contentId === null) return hardlinkTo === undefined ? { entry } : { entry, hardlinkTo };
        if (hardlinkTo !== undefined) return { entry, hardlinkTo };
        const content = page.contents.get(entry.contentId);
        if (content === undefined) return { entry, damage: `content ${entry.contentId} is missing from the catalog` };
        if (content.chunks?.includes(null)) return { entry, damage: `chunk ${content.chunks.indexOf(null)} is missing from the catalog` };
        // A backup stores a file's content with exactly its size (a sparse file's: its extents' data): a content of another
        // size is another file's, which a damaged catalog index once gave a backup, and it restored with exit 0 (red team F1).
        const recorded = dataSizeOf(entry);
        if (content.size !== recorded) return { entry, damage: `its content (${content.id}) holds ${content.size} bytes, where the entry records ${recorded}` };
        const start = firstChunk.get(entry);
        return {
          entry,
          content: start === undefined || content.chunks === undefined
            ? pagedContent(content.hash, content.size, content.id, this.backup.clientId, this.catalog.contents, this.backend, this.codec, this.framing, this.lease,
              this.onDamage)
            : listedContent(content.hash, content.size, runs, content.chunks as ChunkLocation[], start, this.onDamage),
        };
      });
      if (isLastPage) return;
    }
  }

  /** Every pack the page's listed chunks lie in: the page's items read from them, however long they take. */
  private holdPacksOf(contents: Iterable<{ readonly chunks?: readonly (ChunkLocation | null)[] }>): void {
    for (const content of contents) {
      for (const location of content.chunks ?? []) if (location !== null) this.lease.hold(location.packName);
    }
  }

  private linkTarget(entry: StoredEntry): Buffer | undefined {
    if (entry.nlink <= 1 || this.options.linksHardlinks === false) return undefined;
    // Not restored by the client: it can be no link's first name (the later ones came as links to nothing, exit 3).
    if (componentCount(entry.path) <= (this.options.stripsComponents ?? 0)) return undefined;
    const key = linkGroupKey(entry);
    if (key === undefined) return undefined;
    const first = this.linkGroups.get(key);
    if (first === undefined) this.linkGroups.set(key, entry.path);
    return first;
  }

  close(): void {
    this.isClosed = true;
    this.lease.release();
  }
}

/** The components of an entry's path: its slashes (a stored path is absolute, one slash before each name). */
function componentCount(path: Buffer): number {
  let count = 0;
  for (let index = path.indexOf(SLASH); index !== -1; index = path.indexOf(SLASH, index + 1)) count++;
  return count;
}

/** The bytes an entry's content holds: its size, or for a sparse file the sum of its extents' lengths. */
function dataSizeOf(entry: StoredEntry): number {
  return entry.extents.length === 0 ? entry.size : extentDataBytes(entry.extents);
}

/**
 * The hard-link group of an entry with several links, or undefined for a folder (or an entry without
 * content of a type that has some). Inode numbers past 2^53 are stored hashed into 53 bits (the client's
 * safeInteger), and two inodes whose stored numbers met must not become one: true links of a file share
 * its content; of a symlink or special file its type, rdev, ctime and link target (the catalog keeps no
 * link of its own, so backups of older clients regroup the same way).
 */
function linkGroupKey(entry: StoredEntry): string | undefined {
  if (entry.contentId !== null) return `${entry.device}:${entry.inode}:${entry.contentId}`;
  if (!isLinkedWithoutContent(entry.type)) return undefined;
  return `${entry.device}:${entry.inode}:t${entry.type}:${entry.rdev}:${entry.ctimeSec}.${entry.ctimeNsec}:${entry.linkTarget.toString('latin1')}`;
}
