// The first path sent of each inode with several links, with the size, mtime and ctime it was sent
// with: a later link names that path only while its own lstat still shows them. Matched by inode number
// alone, a number freed during a long backup and given to new hard-linked files (cp -al, rsnapshot's
// rotation) made the new file a link to the old path, never read, restored with the old content.
// Symlinks and special files are linked the same way; their type, mode, rdev and link target must match too.
import { EntryType, type EntryMeta } from '../proto/cpsbackup';
import { isLinkedWithoutContent } from '../common/entry-content';
import { withRacyCtime } from './entry-meta';
import type { PosixStat } from './posix/at';

/** A first link as sent: its path, and what its inode was when its content was read (or found unchanged). */
interface FirstLink {
  readonly path: Buffer;
  readonly type: EntryMeta['type'];
  readonly mode: number;
  readonly rdev: number;
  readonly linkTarget: Buffer;
  readonly size: number;
  readonly mtimeSec: number;
  readonly mtimeNsec: number;
  /** The ctime as read, before any racy offset. */
  readonly ctimeSec: number;
  readonly ctimeNsec: number;
  /** Sent with withRacyCtime: a later link is sent so too, or the next backup's unchanged check trusts it alone. */
  readonly isRacy: boolean;
}

export class LinkedInodes {
  /** By device:inode, the exact numbers (EntryMeta's are hashed into 53 bits above 2^53, where two inodes could meet). */
  private readonly firstLinks = new Map<string, FirstLink>();

  /**
   * Records `sent` as the first link of the inode walked as `stats` (when it has several links): `sent` as
   * read, its ctime not yet offset; `isRacy` when the entry went with withRacyCtime. A later first link of
   * the same number replaces it.
   */
  remember(stats: PosixStat, sent: EntryMeta, isRacy: boolean): void {
    if (!isLinkable(sent)) return;
    this.firstLinks.set(keyOf(stats), {
      path: sent.path, type: sent.type, mode: sent.mode, rdev: sent.rdev, linkTarget: sent.linkTarget, size: sent.size, mtimeSec: sent.mtimeSec, mtimeNsec: sent.mtimeNsec, ctimeSec: sent.ctimeSec, ctimeNsec: sent.ctimeNsec, isRacy,
    });
  }

  /**
   * What a later link of the inode walked as `stats` is: 'link', `meta` naming the first path as its
   * hardlinkTarget (with the first one's racy ctime if it had one); 'changed' when its type, mode, rdev,
   * link target, size, mtime or ctime differ from the first link's: another inode under a reused number,
   * or the same one changed since, sent on its own either way. Undefined for an entry of one link, or
   * when its inode has no first link yet.
   */
  laterLink(stats: PosixStat, meta: EntryMeta): LaterLink | undefined {
    if (!isLinkable(meta)) return undefined;
    const first = this.firstLinks.get(keyOf(stats));
    if (first === undefined) return undefined;
    if (!isSameAsRead(first, meta)) return { kind: 'changed', firstPath: first.path };
    const linked: EntryMeta = { ...meta, hardlinkTarget: first.path };
    return { kind: 'link', meta: first.isRacy ? withRacyCtime(linked) : linked };
  }
}

export type LaterLink =
  | { readonly kind: 'link'; readonly meta: EntryMeta }
  | { readonly kind: 'changed'; readonly firstPath: Buffer };

/** An entry with several links of a kind kept as links: a file, symlink or special file (a read FIFO's dump is not). */
function isLinkable(meta: EntryMeta): boolean {
  return meta.nlink > 1 && (meta.type === EntryType.ENTRY_TYPE_FILE || isLinkedWithoutContent(meta.type));
}

function keyOf(stats: PosixStat): string {
  return `${stats.dev}:${stats.ino}`;
}

function isSameAsRead(first: FirstLink, meta: EntryMeta): boolean {
  return meta.type === first.type && meta.mode === first.mode && meta.rdev === first.rdev && meta.linkTarget.equals(first.linkTarget)
    && meta.size === first.size && meta.mtimeSec === first.mtimeSec && meta.mtimeNsec === first.mtimeNsec
    && meta.ctimeSec === first.ctimeSec && meta.ctimeNsec === first.ctimeNsec;
}
