// The walk's end looks again at every folder it listed: one whose entries changed since (an entry moved
// into it from a folder the walk had not reached yet, a folder renamed, a file made) is listed again and
// what it did not hold before is walked then. Without it, a file moved during the backup from a folder
// not yet walked into one already walked was in neither place, with exit 0. Looks repeat while they
// find changes, at most LOOKS times: a folder that changes all the time (a spool) is named by the
// warning at the end instead (listed-folders.ts). An entry a look finds is walked and sent like any
// other (what appeared in a look may as well be new), under a name never sent before: the server
// refuses a path sent twice, and one listed earlier was walked, or left out and reported, then.
import { closeSync } from 'node:fs';
import { fileSystemTypeOf, openFolderAt, openRealPath, readFolderInodesAt, statFd } from './posix/at';
import type { ListedFolders } from './listed-folders';

/** Looks after the walk that list folders again; each one costs an lstat of every folder listed, and the last one more. */
const LOOKS = 3;

/**
 * File systems whose inode numbers may change while a name stays (FAT and exFAT give uncached entries
 * made-up numbers; SMB mounted with noserverino; FUSE file systems that make theirs up).
 */
const UNSTABLE_INODE_FILE_SYSTEMS: ReadonlySet<number> = new Set([0x4d44, 0x2011bab0, 0xff534d42, 0xfe534d42, 0x65735546]);

/** Whether the folder's file system keeps an entry's inode number while it exists (its type by statfs). */
function hasStableInodeNumbers(folderFd: number): boolean {
  try {
    return !UNSTABLE_INODE_FILE_SYSTEMS.has(fileSystemTypeOf(folderFd));
  } catch {
    return false;
  }
}

/** What the looks found: the entries walked (not those excluded), in how many folders. */
export interface SecondLookFindings {
  entries: number;
  /** Each folder once (by its index in ListedFolders), however many looks found entries in it. */
  readonly folders: Set<number>;
}

/**
 * Lists again each folder that changed since its listing and yields, through `walkNames` (which returns
 * how many of the names it walked), what it holds that no listing of it held (the names in byte order,
 * as the walk takes them). Returns the warnings of the last look at the folders. A folder that cannot
 * be opened or listed again is left as it is: that warning names it.
 */
export function* secondLooks<T>(folders: ListedFolders, findings: SecondLookFindings,
  walkNames: (folderFd: number, path: Buffer, names: Buffer[]) => Generator<T, number>): Generator<T, string[]> {
  for (let look = 0; ; look++) {
    // Folders a look walks for the first time are listed and joined to the end: the next look checks them.
    const { relist, warnings } = folders.scan(look === LOOKS);
    if (relist.length === 0) return warnings;
    for (const index of relist) {
      const path = folders.pathOf(index);
      let folderFd: number;
      try {
        // Never through a symlink: each folder on the way is opened without following one.
        folderFd = openRealPath(path, openFolderAt);
      } catch {
        continue;
      }
      try {
        let fresh: Buffer[] | undefined;
        try {
          const listedAtMs = Date.now();
          const listed = statFd(folderFd);
          fresh = folders.relisted(index, listed, listedAtMs, readFolderInodesAt(folderFd), hasStableInodeNumbers(folderFd));
        } catch {
          continue;
        }
        if (fresh === undefined || fresh.length === 0) continue;
        fresh.sort(Buffer.compare);
        const walked = yield* walkNames(folderFd, path, fresh);
        if (walked > 0) findings.folders.add(index);
        findings.entries += walked;
      } finally {
        closeSync(folderFd);
      }
    }
  }
}
