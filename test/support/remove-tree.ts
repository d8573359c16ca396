// Removes a test tree of any depth (rm -r and fs.rm stop at PATH_MAX): fd-relative, and folders made
// unreadable or read-only by a fixture (0000, 0555) are opened up first.
import { closeSync } from 'node:fs';
import { chmodAt, entryKind, openFolderAt, posixConstants, readFolderAt, statAtIfExists, unlinkAt } from '../../src/client/posix/at';

export function removeTree(path: string): void {
  const { AT_FDCWD } = posixConstants();
  removeEntry(AT_FDCWD, Buffer.from(path));
}

function removeEntry(parentFd: number, name: Buffer): void {
  const stats = statAtIfExists(parentFd, name);
  if (stats === undefined) return;
  if (entryKind(stats.mode) !== 'folder') {
    unlinkAt(parentFd, name);
    return;
  }
  chmodAt(parentFd, name, 0o700);
  const folderFd = openFolderAt(parentFd, name);
  try {
    for (const child of readFolderAt(folderFd)) removeEntry(folderFd, child);
  } finally {
    closeSync(folderFd);
  }
  unlinkAt(parentFd, name, { removeFolder: true });
}
