// Row shapes the catalog hands out; plain data so callers never touch SQL.
// Entry metadata mirrors the wire's EntryMeta so nothing is lost on the way in or out.

export interface ChunkLocation {
  readonly chunkId: number;
  readonly hash: Buffer;
  readonly packId: number;
  readonly packName: string;
  readonly offset: number;
  readonly storedSize: number;
  readonly rawSize: number;
  /**
   * SHA-256 of the stored payload where the catalog knows it (the shared copy of a row from schema 6 on), so a restore
   * proves a record it hands on undecoded without decoding it; null or absent otherwise (an own copy, an older row).
   */
  readonly payloadHash?: Buffer | null;
}

/** Where a chunk was read when it did not read back intact: the row is marked damaged only while it still lies there. */
export type DamagedPlace = Pick<ChunkLocation, 'chunkId' | 'packId' | 'offset'>;

export interface Xattr {
  readonly name: Buffer;
  readonly value: Buffer;
}

export interface StoredEntry {
  /** Absolute, '/'-separated, as bytes: any byte but NUL in a component, invalid UTF-8 included. */
  readonly path: Buffer;
  readonly type: number;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** The owner's and group's names on the client ('' where the id had none). */
  readonly user: string;
  readonly group: string;
  readonly mtimeSec: number;
  readonly mtimeNsec: number;
  readonly ctimeSec: number;
  readonly ctimeNsec: number;
  readonly inode: number;
  readonly device: number;
  readonly nlink: number;
  /** Device number of a character or block device. */
  readonly rdev: number;
  /** The file's size (sparse files: including holes; the content holds only the data extents). */
  readonly size: number;
  readonly linkTarget: Buffer;
  readonly xattrs: readonly Xattr[];
  /** Data extents of a sparse file as offset, length pairs; empty for a dense file. */
  readonly extents: readonly number[];
  /** chattr's flags a restore sets (client/posix/inode-flags.ts); null where unknown (not read: before they were kept, an older client, an entry type without them). */
  readonly inodeFlags: number | null;
  readonly contentId: number | null;
  /**
   * Set only where the catalog's copy of the entry's own fields is damaged (an attribute or extent list
   * that does not decode): what is wrong. The field then reads as empty; the entry is restored as not restorable.
   */
  readonly damage?: string;
}

/**
 * What a new backup takes over from its parent for an unchanged file: the rest of the entry comes from
 * the client's walk. Reading whole rows cost a no-change backup of 20,000 files a tenth of a second.
 */
export type ReferencedFields = Pick<StoredEntry, 'path' | 'size' | 'xattrs' | 'extents' | 'inodeFlags' | 'contentId'>;

/**
 * What tells an unchanged file (the Parent call's answer): read without attributes or extents, but for
 * an entry's ACLs and the names recorded with them (aclXattrs, empty for most entries): the names are
 * the client's user database's, which can change with nothing in the file's stat.
 */
export type UnchangedCheckEntry = Pick<StoredEntry,
  'path' | 'type' | 'mode' | 'mtimeSec' | 'mtimeNsec' | 'ctimeSec' | 'ctimeNsec' | 'inode' | 'size' | 'contentId'
  | 'uid' | 'gid' | 'user' | 'group' | 'device' | 'nlink' | 'inodeFlags'> & { readonly aclXattrs: readonly Xattr[] };

export interface BackupRecord {
  readonly id: number;
  readonly clientId: number;
  readonly clientName: string;
  readonly number: number;
  readonly state: 'running' | 'committed';
  readonly kind: number;
  readonly hostname: string;
  readonly startedAt: number;
  readonly finishedAt: number | null;
  readonly files: number;
  readonly logicalBytes: number;
  readonly newBytes: number;
  readonly storedBytes: number;
  readonly labels: Readonly<Record<string, string>>;
  /** Files the client could not read: the backup is kept but incomplete. */
  readonly unreadableFiles: number;
  /** Retention and deletion skip a protected backup. */
  readonly isProtected: boolean;
  /** Place among the client's committed complete backups, no gaps (burp's keep levels count these); null for others. */
  readonly completeOrdinal: number | null;
}

/** A backup without its labels: what figures over many backups need (labels are JSON, parsed per row). */
export type BackupPoint = Omit<BackupRecord, 'labels'>;

export interface BackupStats {
  readonly files: number;
  readonly logicalBytes: number;
  readonly newBytes: number;
  readonly storedBytes: number;
  readonly unreadableFiles: number;
}

export interface ContentRecord {
  readonly id: number;
  readonly hash: Buffer;
  readonly size: number;
}

/** A chunk record written to a sealed pack, before its catalog row exists. */
export interface NewChunkRow {
  readonly hash: Buffer;
  readonly offset: number;
  readonly storedSize: number;
  readonly rawSize: number;
  /** SHA-256 of the payload as stored (absent for a record compaction copies: its row keeps its own). */
  readonly payloadHash?: Buffer;
  /** The appender's own mark, handed back with the sealed pack (compaction: which row the copy moves). */
  readonly tag?: number;
}
