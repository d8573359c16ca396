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
}

export interface StoredEntry {
  readonly path: string;
  readonly type: number;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly mtimeSec: number;
  readonly mtimeNsec: number;
  readonly ctimeSec: number;
  readonly ctimeNsec: number;
  readonly inode: number;
  readonly device: number;
  readonly size: number;
  readonly linkTarget: string;
  readonly contentId: number | null;
}

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
}

export interface BackupStats {
  readonly files: number;
  readonly logicalBytes: number;
  readonly newBytes: number;
  readonly storedBytes: number;
}

export interface ContentRecord {
  readonly id: number;
  readonly hash: Buffer;
  readonly size: number;
}

/** A chunk written to a pack whose catalog row is not inserted yet (it goes in with its content). */
export interface NewChunkRow {
  readonly hash: Buffer;
  readonly packId: number;
  readonly offset: number;
  readonly storedSize: number;
  readonly rawSize: number;
}
