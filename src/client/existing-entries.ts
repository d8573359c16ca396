// What a restore does where an entry is already in place: whether it is the backup's entry (its
// content aside: the mode the restore would give, the owner where owners are given, the mtime, the
// ACLs and extended attributes it would set), and whether the overwrite policy lets the restore
// replace it. What it keeps is listed (exit 3).
import { type EntryMeta, EntryType, type Xattr } from '../proto/cpsbackup';
import type { PosixStat } from './posix/at';
import { isAclCopy } from './posix/xattrs';
import type { Owner } from './posix/owners';
import type { RestoreTree } from './restore-tree/restore-tree';
import { decideOverwrite, type OverwritePolicy } from './overwrite-policy';
import { isRestoredXattr, metadataDifference, mtimeNsOf } from './metadata-difference';

const S_ISUID = 0o4000;
const S_ISGID = 0o2000;
const SET_ID_BITS = S_ISUID | S_ISGID;

/** Whose files a restore without root makes: its effective user. */
export interface RestoringUser {
  readonly uid: number;
}

export class ExistingEntries {
  /**
   * Inodes with several links here found at paths the backup has as files (not as later links): each
   * one's first path. Only such files are kept (a restore over a tree of single files keeps nothing).
   */
  private readonly linkedInodes = new Map<string, Buffer>();

  constructor(
    private readonly tree: RestoreTree,
    private readonly options: { readonly overwrite: OverwritePolicy; readonly isRoot: boolean; readonly restoringUser?: RestoringUser },
    /** Where what is kept is listed. */
    private readonly kept: string[],
  ) {}

  /**
   * The mode the restore gives: without root the entry stays the restoring user's, so a file loses its
   * set-user-ID and set-group-ID bits (they would run it as that user), except a set-user-ID bit whose
   * owner in the backup is the restoring user here (by name where the name exists here, as a root restore
   * gives owners): their own set-user-ID program stays one (it was cleared, reported as needing root, and
   * --overwrite cleared it on a file that was right). The set-group-ID bit always goes: the file's group
   * is the folder's in a set-group-ID folder, where the kernel drops the bit or keeps it for a group the
   * backup never had. A folder keeps them.
   */
  modeGiven(meta: EntryMeta): number {
    if (this.options.isRoot || meta.type === EntryType.ENTRY_TYPE_DIRECTORY) return meta.mode;
    const user = this.options.restoringUser;
    const isOwnSetUid = (meta.mode & S_ISUID) !== 0 && user !== undefined && this.tree.localOwner(ownerOf(meta)).uid === user.uid;
    return meta.mode & ~(isOwnSetUid ? S_ISGID : SET_ID_BITS);
  }

  /**
   * The attributes the restore sets, their ACLs naming users and groups as here (by name, as the owner):
   * without root only user.* and the ACLs can be set (the writer reports the rest as needing root).
   */
  xattrsGiven(meta: EntryMeta): Xattr[] {
    // A backup made before XFS's ACL copies were left out may hold them: never written back (see isAclCopy).
    if (meta.xattrs.length === 0) return meta.xattrs;
    return this.tree.localXattrs(meta.xattrs).filter((xattr) => !isAclCopy(xattr.name) && (this.options.isRoot || isRestoredXattr(xattr.name, false)));
  }

  /** What differs at path from what the restore would make, besides content, named for a message; undefined when nothing does. */
  differenceOf(path: Buffer, existing: PosixStat, meta: EntryMeta, compared: { readonly mtime: boolean; readonly mode?: boolean }): string | undefined {
    // Two names of one inode here where the backup has two files (a file of its own, or the first names
    // of two link groups; a later link of a group is no file here, see RestoreWriter.hardLink): a write
    // to one would change the other, so the second is not the backup's entry, whatever its content.
    // Only names of this restore count: a link outside it (an rsnapshot or `cp -al` copy) changes nothing the backup holds.
    if (meta.type !== EntryType.ENTRY_TYPE_DIRECTORY && existing.nlink > 1) {
      const inode = `${existing.dev}:${existing.ino}`;
      const first = this.linkedInodes.get(inode);
      if (first !== undefined) return `the same file here as ${this.tree.localPath(first)} (hard links), two files in the backup`;
      this.linkedInodes.set(inode, path);
    }
    const isRoot = this.options.isRoot;
    const owner = isRoot ? this.tree.localOwner(ownerOf(meta)) : undefined;
    // Unknown where the catalog's list is damaged (EntryMeta.damage): not compared, so never named as a difference.
    const xattrs = meta.damage ? undefined : { existing: () => this.tree.readXattrs(path), given: this.xattrsGiven(meta), isRoot };
    const hasFlags = meta.type === EntryType.ENTRY_TYPE_DIRECTORY || meta.type === EntryType.ENTRY_TYPE_FILE;
    const inodeFlags = hasFlags ? { existing: () => this.tree.readInodeFlags(path) } : undefined;
    return metadataDifference(existing, { ...meta, mode: this.modeGiven(meta) },
      { mode: compared.mode ?? true, modeInBackup: meta.mode, owner, mtime: compared.mtime, xattrs, inodeFlags });
  }

  /**
   * Whether the policy lets the restore replace what is there; what it keeps (not identical) is listed.
   * difference: what differs besides content, named in the message when the content is not known to differ.
   */
  decide(path: Buffer, existing: PosixStat, isIdentical: boolean, meta: EntryMeta, difference?: string): 'write' | 'keep' {
    const decision = decideOverwrite(this.options.overwrite, isIdentical, existing.mtimeNs, mtimeNsOf(meta));
    if (decision === 'write') return 'write';
    if (decision === 'keep-different') {
      const how = difference === undefined ? '' : ` (${difference})`;
      // Under if-newer the file kept is not older than the backup's: plain --overwrite would not change that.
      const replacer = this.options.overwrite === 'if-newer' ? 'not older than the backup\'s copy; --overwrite=always replaces it' : '--overwrite replaces it';
      this.kept.push(`${this.tree.localPath(path)}: exists and differs from the backup${how}; kept (${replacer})`);
    }
    return 'keep';
  }

  /** Whether the policy replaces this entry should it differ: if not, a differing file's content need not be written. */
  replacesIfDifferent(existing: PosixStat, meta: EntryMeta): boolean {
    return decideOverwrite(this.options.overwrite, false, existing.mtimeNs, mtimeNsOf(meta)) === 'write';
  }

  /**
   * What a restore does with a folder already there: restoring one file below /srv must not reset /srv.
   * 'replace': it takes the backup's metadata (--overwrite, or if-newer for an older folder, where a mode,
   * owner, ACL or attribute differs); 'same': it is the backup's but for its mtime, which moves with what
   * is written into it and is not compared; 'keep': it differs and is kept, listed.
   */
  folderDecision(path: Buffer, folder: PosixStat, meta: EntryMeta): 'replace' | 'same' | 'keep' {
    if (this.options.overwrite === 'always') return 'replace';
    const difference = this.differenceOf(path, folder, meta, { mtime: false });
    if (difference === undefined) return 'same';
    return this.decide(path, folder, false, meta, difference) === 'write' ? 'replace' : 'keep';
  }
}

/** The owner as the backup recorded it: ids, and names where the source machine had them. */
export function ownerOf(meta: EntryMeta): Owner {
  return { uid: meta.uid, gid: meta.gid, ...(meta.user ? { user: meta.user } : {}), ...(meta.group ? { group: meta.group } : {}) };
}
