// The inode this restore left at each entry's path that a later hard link may name as its first name:
// a link is made only while that path still holds it (restore-tree.ts makeHardLink).
import type { EntryMeta } from '../../proto/cpsbackup';
import { EntryType } from '../../proto/cpsbackup';

export interface Inode {
  readonly dev: bigint | number;
  readonly ino: bigint | number;
}

/** A first name whose path could not be looked at once restored (a folder on its way swapped or made unsearchable): nothing may link to it. */
export const UNREACHABLE = 'unreachable';

export class LinkTargets {
  /** Latin1 of the entry's path in the backup → what this restore committed there, or found identical and kept. */
  private readonly inodes = new Map<string, Inode | typeof UNREACHABLE>();

  /**
   * Only entries a hard link may name: not a folder, not a link itself, and with more than one link when
   * read (0: a backup that did not record it). A restore of millions of single-link files keeps nothing.
   */
  isLinkable(meta: EntryMeta): boolean {
    return meta.type !== EntryType.ENTRY_TYPE_DIRECTORY && meta.hardlinkTarget.length === 0 && meta.nlink !== 1;
  }

  /** inode: undefined when nothing could be found at the entry's path: a later link to it is then refused. */
  record(entryPath: Buffer, inode: Inode | undefined): void {
    this.inodes.set(entryPath.toString('latin1'), inode === undefined ? UNREACHABLE : { dev: inode.dev, ino: inode.ino });
  }

  /** What this restore left for the entry; undefined when it recorded nothing (its nlink read 1). */
  expected(entryPath: Buffer): Inode | typeof UNREACHABLE | undefined {
    return this.inodes.get(entryPath.toString('latin1'));
  }
}

export function isSameInode(a: Inode, b: Inode): boolean {
  return BigInt(a.dev) === BigInt(b.dev) && BigInt(a.ino) === BigInt(b.ino);
}
