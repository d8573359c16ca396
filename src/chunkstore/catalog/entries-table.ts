// A backup's entries, by path (bytes, in memcmp order): inserted in batches by a write session,
// read back a page at a time so no cursor stays open across awaits.
import type { CatalogDatabase } from './database';
import type { ReferencedFields, StoredEntry, UnchangedCheckEntry, Xattr } from './records';
import { decodeExtents, decodeXattrs, encodeExtents, encodeXattrs, isWellFramed } from './entry-fields';
import { damagedContentIdsFor } from './contents-table';
import { ACL_NAME_PREFIX, isAclAttribute } from '../../common/acl-attributes';
import { ENTRY_METADATA_BYTES_SQL } from './schema';
import { CorruptError } from '../../common/errors';

/**
 * An entry's attribute and extent lists, decoded; a list that does not decode (damage to that one row)
 * reads as empty and says so in `damage`, so that it costs that entry, never the backup it is in.
 */
export function decodedFields(xattrsBlob: Buffer | null, extentsBlob: Buffer | null): { xattrs: Xattr[]; extents: number[]; damage?: string } {
  const problems: string[] = [];
  const decoded = <T>(decode: () => T[]): T[] => {
    try {
      return decode();
    } catch (error) {
      if (!(error instanceof CorruptError)) throw error;
      problems.push(`${error.message} (catalog damage)`);
      return [];
    }
  };
  const xattrs = decoded(() => decodeXattrs(xattrsBlob));
  const extents = decoded(() => decodeExtents(extentsBlob));
  return problems.length === 0 ? { xattrs, extents } : { xattrs, extents, damage: problems.join('; ') };
}

export const ENTRY_COLUMNS = 'path, type, mode, uid, gid, mtime_sec, mtime_nsec, ctime_sec, ctime_nsec, inode, device, size, '
  + 'link_target, content_id, user_name, group_name, nlink, rdev, xattrs, extents, inode_flags';

/** A parent entry's carried fields with its content's hash and size (null for an entry without content, or whose content row is gone). */
export interface EntryWithContentSize {
  readonly entry: ReferencedFields;
  readonly contentSize: number | null;
  readonly contentHash: Buffer | null;
}

const PARENT_CONTENT_COLUMNS = 'e.path, e.size, e.content_id, e.xattrs, e.extents, e.inode_flags, c.size, c.hash';

type ParentContentRow = [path: Buffer, size: number, contentId: number | null, xattrs: Buffer | null, extents: Buffer | null, inodeFlags: number | null,
  contentSize: number | null, contentHash: Buffer | null];

function withContentSize([path, size, contentId, xattrs, extents, inodeFlags, contentSize, contentHash]: ParentContentRow): EntryWithContentSize {
  const fields = decodedFields(xattrs, extents);
  // A damaged parent entry carries nothing: as one whose content row is gone, its file is read and sent again.
  if (fields.damage !== undefined) return { entry: { path, size, contentId: null, xattrs: [], extents: [], inodeFlags: null }, contentSize: null, contentHash: null };
  return { entry: { path, size, contentId, xattrs: fields.xattrs, extents: fields.extents, inodeFlags }, contentSize, contentHash };
}

/** An entry a carried run copied: its path, content and size. */
/** A carried entry: its path, content, size and what its metadata takes (ENTRY_METADATA_BYTES_SQL). */
export type CopiedEntryRow = [path: Buffer, contentId: number, size: number, metadataBytes: number];

/** An entries row as better-sqlite3's raw mode returns it, in ENTRY_COLUMNS order: named rows cost three times as much to read. */
export type EntryRow = [
  path: Buffer, type: number, mode: number, uid: number, gid: number, mtimeSec: number, mtimeNsec: number,
  ctimeSec: number, ctimeNsec: number, inode: number, device: number, size: number, linkTarget: Buffer, contentId: number | null,
  user: string, group: string, nlink: number, rdev: number, xattrs: Buffer | null, extents: Buffer | null, inodeFlags: number | null,
];

type UnchangedCheckRow = [
  path: Buffer, type: number, mode: number, mtimeSec: number, mtimeNsec: number, ctimeSec: number, ctimeNsec: number,
  inode: number, size: number, contentId: number | null, uid: number, gid: number, user: string, group: string, device: number, nlink: number,
  inodeFlags: number | null, xattrs: Buffer | null, extents: Buffer | null,
];

/** A BLOB, so instr() compares bytes (a TEXT pattern would compare the attribute list as text). */
const ACL_PREFIX_BYTES = Buffer.from(ACL_NAME_PREFIX, 'latin1');

const NO_XATTRS: readonly Xattr[] = Object.freeze([]);

/**
 * The ACLs and their recorded names among an entry's attributes; the shared empty list for most
 * entries. `known`: the lists read so far by attribute bytes, so a tree given one ACL decodes it once.
 */
function aclXattrsOf(blob: Buffer | null, known: Map<string, readonly Xattr[]>): readonly Xattr[] | undefined {
  if (blob === null) return NO_XATTRS;
  // Bounded: a tree of many different (or large) attribute lists decodes each, as without the map.
  const key = blob.length <= MAX_KNOWN_BYTES ? blob.toString('latin1') : undefined;
  const seen = key === undefined ? undefined : known.get(key);
  if (seen !== undefined) return seen;
  const { xattrs, damage } = decodedFields(blob, null);
  if (damage !== undefined) return undefined;
  const acls = xattrs.filter((xattr) => isAclAttribute(xattr.name));
  const found = acls.length === 0 ? NO_XATTRS : acls;
  if (key !== undefined && known.size < MAX_KNOWN_LISTS) known.set(key, found);
  return found;
}

const MAX_KNOWN_LISTS = 1000;
const MAX_KNOWN_BYTES = 4096;

export function toEntry(row: EntryRow): StoredEntry {
  const [path, type, mode, uid, gid, mtimeSec, mtimeNsec, ctimeSec, ctimeNsec, inode, device, size, linkTarget, contentId,
    user, group, nlink, rdev, xattrs, extents, inodeFlags] = row;
  const fields = decodedFields(xattrs, extents);
  const entry = {
    path, type, mode, uid, gid, user, group, mtimeSec, mtimeNsec, ctimeSec, ctimeNsec, inode, device, nlink, rdev, size, linkTarget,
    xattrs: fields.xattrs, extents: fields.extents, inodeFlags, contentId,
  };
  return fields.damage === undefined ? entry : { ...entry, damage: fields.damage };
}

export class EntriesTable {
  private readonly statements;

  constructor(private readonly database: CatalogDatabase) {
    const db = database.connection;
    this.statements = {
      insert: db.prepare(`INSERT INTO entries (backup_id, ${ENTRY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      at: db.prepare(`SELECT ${ENTRY_COLUMNS} FROM entries WHERE backup_id = ? AND path = ?`).raw(),
      page: db.prepare(`SELECT ${ENTRY_COLUMNS} FROM entries WHERE backup_id = ? AND path > ? ORDER BY path LIMIT ?`).raw(),
      // The content's size comes with the entry: a lookup per unchanged file cost a backup of 40,000 unchanged files a second.
      fromWithContentSize: db.prepare(
        `SELECT ${PARENT_CONTENT_COLUMNS} FROM entries e LEFT JOIN contents c ON c.id = e.content_id
         WHERE e.backup_id = ? AND e.path >= ? ORDER BY e.path LIMIT ?`).raw(),
      atWithContentSize: db.prepare(
        `SELECT ${PARENT_CONTENT_COLUMNS} FROM entries e LEFT JOIN contents c ON c.id = e.content_id
         WHERE e.backup_id = ? AND e.path = ?`).raw(),
      // Every list is looked at for its framing (a damaged one would be carried on, raw, into the next
      // backup); only one that holds an ACL is decoded: most hold none.
      unchangedCheck: db.prepare(
        `SELECT path, type, mode, mtime_sec, mtime_nsec, ctime_sec, ctime_nsec, inode, size, content_id, uid, gid, user_name, group_name, device, nlink, inode_flags,
           xattrs, extents
         FROM entries WHERE backup_id = ? AND path > ? ORDER BY path LIMIT ?`).raw(),
      count: db.prepare(`SELECT COUNT(*) FROM entries WHERE backup_id = ?`).pluck(),
      lists: db.prepare(`SELECT path, xattrs, extents, content_id FROM entries WHERE backup_id = ? AND (xattrs IS NOT NULL OR extents IS NOT NULL) ORDER BY path`).raw(),
      // Regular files of one link whose content is there and sound, in a path range, copied in SQLite: a
      // no-change backup of 20,000 files spent a third of a second of server CPU on one insert per file.
      copySoundRange: db.prepare(
        `INSERT INTO entries (backup_id, ${ENTRY_COLUMNS})
         SELECT ?, ${ENTRY_COLUMNS} FROM entries e
         WHERE e.backup_id = ? AND e.path >= ? AND e.path <= ? AND e.type = ? AND e.nlink = 1
           AND EXISTS (SELECT 1 FROM contents c WHERE c.id = e.content_id)
           AND e.content_id NOT IN (${damagedContentIdsFor('?')})
         ORDER BY e.path LIMIT ?
         RETURNING path, content_id, size, ${ENTRY_METADATA_BYTES_SQL}`).raw(),
    };
  }

  /**
   * Inside a caller's transaction, or in one of its own. contentIds[i] is entries[i]'s content: a write
   * session learns them at its flush, and a copy of each entry with its id was a sixteenth of what a
   * first backup allocated on the server.
   */
  insert(backupId: number, entries: readonly (Omit<StoredEntry, 'contentId'> & { readonly contentId?: never })[], contentIds: readonly (number | null)[]): void {
    if (contentIds.length !== entries.length) throw new RangeError(`${entries.length} entries with ${contentIds.length} content ids`);
    this.database.transaction(() => {
      for (let index = 0; index < entries.length; index++) {
        const entry = entries[index];
        this.statements.insert.run(
          backupId, entry.path, entry.type, entry.mode, entry.uid, entry.gid, entry.mtimeSec, entry.mtimeNsec,
          entry.ctimeSec, entry.ctimeNsec, entry.inode, entry.device, entry.size, entry.linkTarget, contentIds[index],
          entry.user, entry.group, entry.nlink, entry.rdev, encodeXattrs(entry.xattrs), encodeExtents(entry.extents), entry.inodeFlags);
      }
    });
  }

  at(backupId: number, path: Buffer): StoredEntry | undefined {
    const row = this.statements.at.get(backupId, path) as EntryRow | undefined;
    return row && toEntry(row);
  }

  /** Up to `limit` entries in path order from `fromPath` on (that path included), each with its content's size and hash. */
  fromWithContentSize(backupId: number, fromPath: Buffer, limit: number): EntryWithContentSize[] {
    return (this.statements.fromWithContentSize.all(backupId, fromPath, limit) as ParentContentRow[]).map(withContentSize);
  }

  atWithContentSize(backupId: number, path: Buffer): EntryWithContentSize | undefined {
    const row = this.statements.atWithContentSize.get(backupId, path) as ParentContentRow | undefined;
    return row && withContentSize(row);
  }

  /** Up to `limit` entries in path order after `afterPath`. */
  after(backupId: number, afterPath: Buffer, limit: number): StoredEntry[] {
    return (this.statements.page.all(backupId, afterPath, limit) as EntryRow[]).map(toEntry);
  }

  /** Entries in path order, a page at a time; `beforePage` runs in the turn of each page's query (it may throw to end the read). */
  all(backupId: number, pageSize = 1000, beforePage?: () => void): Generator<StoredEntry> {
    return inPathOrder((afterPath, limit) => this.after(backupId, afterPath, limit), pageSize, beforePage);
  }

  /** Every entry's unchanged-check fields in path order, a page at a time: a fifth of the cost of whole entries. */
  unchangedCheck(backupId: number, pageSize = 2000, beforePage?: () => void): Generator<UnchangedCheckEntry> {
    const knownAcls = new Map<string, readonly Xattr[]>();
    return inPathOrder((afterPath, limit) => (this.statements.unchangedCheck.all(backupId, afterPath, limit) as UnchangedCheckRow[])
      .map(([path, type, mode, mtimeSec, mtimeNsec, ctimeSec, ctimeNsec, inode, size, contentId, uid, gid, user, group, device, nlink, inodeFlags, xattrs, extents]) => {
        const isFramed = (xattrs === null || isWellFramed(xattrs, 'xattrs')) && (extents === null || isWellFramed(extents, 'extents'));
        const acls = !isFramed || xattrs === null || !xattrs.includes(ACL_PREFIX_BYTES) ? NO_XATTRS : aclXattrsOf(xattrs, knownAcls);
        // A list that does not decode (catalog damage): the entry's flags read as unknown, so the client reads the file again.
        const isDamaged = !isFramed || acls === undefined;
        return { path, type, mode, mtimeSec, mtimeNsec, ctimeSec, ctimeNsec, inode, size, contentId, uid, gid, user, group, device, nlink,
          inodeFlags: isDamaged ? null : inodeFlags, aclXattrs: acls ?? NO_XATTRS };
      }), pageSize, beforePage);
  }

  /**
   * Copies `fromBackupId`'s entries of type `fileType` with one link and sound content whose paths lie
   * from `first` to `last` (both included), at most `limit` of them, into `toBackupId`; returns what
   * was copied. Sound for `clientId`, the backups' client: a damaged chunk it has an own copy of is no
   * damage to its files. Inside a caller's transaction.
   */
  copySoundRange(fromBackupId: number, toBackupId: number, clientId: number, range: { first: Buffer; last: Buffer; fileType: number }, limit: number): CopiedEntryRow[] {
    // The client's id bound, not looked up per row: correlated, the damaged list was read again for every entry (seconds for a shared damaged chunk).
    return this.statements.copySoundRange.all(toBackupId, fromBackupId, range.first, range.last, range.fileType, clientId, limit) as CopiedEntryRow[];
  }

  /**
   * The backup's entries whose attribute or extent list does not decode (catalog damage), with what is wrong, in path
   * order; hasContent: a file with content (not restorable), else an entry restored without the lists.
   */
  damaged(backupId: number): { path: Buffer; damage: string; hasContent: boolean }[] {
    const found: { path: Buffer; damage: string; hasContent: boolean }[] = [];
    for (const [path, xattrs, extents, contentId] of this.statements.lists.iterate(backupId) as Iterable<[Buffer, Buffer | null, Buffer | null, number | null]>) {
      const { damage } = decodedFields(xattrs, extents);
      if (damage !== undefined) found.push({ path, damage, hasContent: contentId !== null });
    }
    return found;
  }

  count(backupId: number): number {
    return this.statements.count.get(backupId) as number;
  }
}

/**
 * Rows in path order, read a page at a time after the last path read: no cursor stays open between pages. A row
 * deleted meanwhile reads as the end; `beforePage`, in the same turn as each query, can tell that from the end.
 */
function* inPathOrder<T extends { readonly path: Buffer }>(readPage: (afterPath: Buffer, limit: number) => T[], pageSize: number,
  beforePage?: () => void): Generator<T> {
  let afterPath: Buffer = Buffer.alloc(0);
  for (;;) {
    beforePage?.();
    const page = readPage(afterPath, pageSize);
    yield* page;
    if (page.length < pageSize) return;
    afterPath = page[page.length - 1].path;
  }
}
