// Metadata given only to the inode this restore made or found, never to whatever has its name later:
// the entry is opened (never followed, never opened for I/O), checked, and acted on through that fd.
import { closeSync } from 'node:fs';
import { type EntryKind, entryKind, openAt, openFolderHandleAt, openHandleAt, posixConstants, statFd } from '../posix/at';
import type { OwnerNames } from '../posix/owners';
import type { MetadataFailure } from './errors';
import { type Inode, isSameInode } from './link-targets';
import { type EntryMetadata, applyMetadata } from './metadata';

/** The entry at the name is not the one expected: nothing was done to it. */
export const REPLACED = 'replaced';

/**
 * A symlink or special file this restore has just made under `name`: opened as an O_PATH handle and
 * given its metadata through it, if it is still of that kind and has no other name (a hard link put in
 * its place would hand the backup's owner and mode to a file that is not the restore's). Its identity is
 * what a later hard link to it must find.
 */
export function setMadeEntryMetadata(folderFd: number, name: Buffer, kind: EntryKind, metadata: EntryMetadata | undefined,
  owners: OwnerNames): { identity: Inode; failures: MetadataFailure[] } | typeof REPLACED {
  let handle: number;
  try {
    handle = openHandleAt(folderFd, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return REPLACED;
    throw error;
  }
  try {
    const found = statFd(handle);
    if (entryKind(found.mode) !== kind || found.nlink !== 1) return REPLACED;
    const failures = metadata === undefined ? [] : applyMetadata({ handle, isSymlink: kind === 'symlink' }, metadata, owners);
    return { identity: found, failures };
  } finally {
    closeSync(handle);
  }
}

/**
 * A folder's metadata, given only while `name` is still the folder recorded when it was made or found.
 * Opened O_RDONLY|O_DIRECTORY|O_NOFOLLOW so every step goes through the fd (a symlink or anything else
 * there fails to open); where it cannot be read (not root, a folder without read permission) an O_PATH
 * handle, acted on through it (fchownat AT_EMPTY_PATH, /proc/self/fd for the mode and the xattrs).
 */
export function setCheckedFolderMetadata(parentFd: number, name: Buffer, identity: Inode, metadata: EntryMetadata,
  owners: OwnerNames): MetadataFailure[] | typeof REPLACED {
  const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW } = posixConstants();
  let fd: number;
  let isHandle = false;
  try {
    fd = openAt(parentFd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  } catch (error) {
    if (isNoFolderThere(error)) return REPLACED;
    if ((error as NodeJS.ErrnoException).code !== 'EACCES') throw error;
    try {
      fd = openFolderHandleAt(parentFd, name);
      isHandle = true;
    } catch (handleError) {
      if (isNoFolderThere(handleError)) return REPLACED;
      throw handleError;
    }
  }
  try {
    if (!isSameInode(statFd(fd), identity)) return REPLACED;
    return applyMetadata(isHandle ? { handle: fd, isSymlink: false, isFolder: true } : { fd, isFolder: true }, metadata, owners);
  } finally {
    closeSync(fd);
  }
}

/** An open of the name as a folder failed because no folder is there now: gone, another kind, a symlink. */
function isNoFolderThere(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP';
}
