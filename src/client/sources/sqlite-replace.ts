// Puts a rebuilt SQLite database in place of the live one, in a folder held by fd that its application's
// user may write to: only *at calls on names in held folders, nothing there is ever opened by name or followed.
import { randomBytes } from 'node:crypto';
import { closeSync, createReadStream, createWriteStream, fsyncSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { chmodFd, chownFd, mkdirAt, openAt, openFolderHandleAt, posixConstants, renameAt, statAt, statAtIfExists, statFd, unlinkAt } from '../posix/at';

/** The files beside a database that belong to it: a -wal or -shm left there would be replayed into the new one. */
const COMPANION_SUFFIXES = ['-wal', '-shm', '-journal'];

/**
 * Moves (or, from another file system, copies) `builtName` of the held folder `builtFd` into a private 0700
 * folder made beside the target, then renames it over `targetName` in `folderFd`: rename replaces whatever is
 * at the target name (a symlink too) without following it, and the private folder, held by fd, is reached
 * even if someone renames it away meanwhile.
 *
 * The old database's -wal / -shm / -journal are moved aside, not deleted, until the new database has its
 * name: removed first, a failure (or a crash) before the rename lost committed WAL frames, or left the old
 * database without its hot journal. A failure puts them back; a crash leaves them under
 * `.<name>-wal.cpsbackup-aside`, beside the database they belong to.
 */
export async function replaceDatabase(builtFd: number, builtName: string, folderFd: number, targetName: string): Promise<void> {
  const incomingName = `.${targetName}.cpsbackup-load-${randomBytes(8).toString('hex')}`;
  mkdirAt(folderFd, incomingName, 0o700);
  let incomingFd: number | undefined;
  try {
    incomingFd = openFolderHandleAt(folderFd, incomingName);
    const incoming = statFd(incomingFd);
    if (incoming.uid !== process.geteuid?.() || (incoming.mode & 0o077) !== 0) {
      throw new Error(`${incomingName} was replaced by another folder (uid ${incoming.uid}, mode ${(incoming.mode & 0o7777).toString(8)}) before it was opened`);
    }
    await moveOrCopy(builtFd, builtName, incomingFd, builtName);
    takeOwnerAndMode(incomingFd, builtName, folderFd, targetName);
    swapIn(incomingFd, builtName, folderFd, targetName);
    syncFolder(folderFd);
    for (const suffix of COMPANION_SUFFIXES) removeIfPresent(folderFd, asideName(targetName, suffix));
  } finally {
    if (incomingFd !== undefined) removeIncoming(folderFd, incomingName, incomingFd, builtName);
  }
}

/**
 * The rebuilt database takes the old one's owner, group and mode, or the folder's owner and group: built by
 * root it was root's, mode 0644, and the application's user could no longer write its own database. The old
 * file counts only when it can be the database and not someone's pick: a file of one link, whose owner is the
 * folder's (or in a folder of root's alone); a hard link put at its name would hand out its owner and mode.
 * Set while the new file is in the private folder, where no one else can reach it.
 */
function takeOwnerAndMode(incomingFd: number, builtName: string, folderFd: number, targetName: string): void {
  const { S_IFMT, S_IFREG, O_RDONLY, O_NOFOLLOW } = posixConstants();
  const folder = statFd(folderFd);
  const old = statAtIfExists(folderFd, targetName);
  const isFolderRootsAlone = folder.uid === 0 && (folder.mode & 0o022) === 0;
  const oldFile = old !== undefined && (old.mode & S_IFMT) === S_IFREG && old.nlink === 1 && (old.uid === folder.uid || isFolderRootsAlone)
    ? old : undefined;
  const owner = oldFile ?? folder;
  const fd = openAt(incomingFd, builtName, O_RDONLY | O_NOFOLLOW);
  try {
    if (process.geteuid?.() === 0) chownFd(fd, owner.uid, owner.gid);
    // Never a set-user-ID or set-group-ID database (the chown above cleared them anyway).
    if (oldFile !== undefined) chmodFd(fd, oldFile.mode & 0o1777);
  } finally {
    closeSync(fd);
  }
}

function asideName(targetName: string, suffix: string): string {
  return `.${targetName}${suffix}.cpsbackup-aside`;
}

function swapIn(incomingFd: number, builtName: string, folderFd: number, targetName: string): void {
  const moved: string[] = [];
  try {
    for (const suffix of COMPANION_SUFFIXES) {
      if (renameIfPresent(folderFd, `${targetName}${suffix}`, asideName(targetName, suffix))) moved.push(suffix);
    }
    renameAt(incomingFd, builtName, folderFd, targetName);
  } catch (error) {
    for (const suffix of moved) renameAt(folderFd, asideName(targetName, suffix), folderFd, `${targetName}${suffix}`);
    throw error;
  }
}

/** A rename, or across file systems (EXDEV) a copy with the same mode, synced, made O_EXCL|O_NOFOLLOW. */
async function moveOrCopy(fromFd: number, fromName: string, toFd: number, toName: string): Promise<void> {
  try {
    renameAt(fromFd, fromName, toFd, toName);
    return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
  }
  const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = posixConstants();
  const source = openAt(fromFd, fromName, O_RDONLY | O_NOFOLLOW);
  try {
    const copy = openAt(toFd, toName, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
    try {
      await pipeline(createReadStream('', { fd: source, autoClose: false }), createWriteStream('', { fd: copy, autoClose: false }));
      chmodFd(copy, statFd(source).mode & 0o7777);
      fsyncSync(copy);
    } finally {
      closeSync(copy);
    }
  } finally {
    closeSync(source);
  }
}

function renameIfPresent(folderFd: number, from: string, to: string): boolean {
  try {
    renameAt(folderFd, from, folderFd, to);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

function removeIfPresent(folderFd: number, name: string): void {
  try {
    unlinkAt(folderFd, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/** Without it a new name can vanish on power loss even though its data was synced. */
function syncFolder(folderFd: number): void {
  const { O_RDONLY, O_DIRECTORY } = posixConstants();
  const fd = openAt(folderFd, '.', O_RDONLY | O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Empties the private folder through its fd, then removes it by name only while that name is still it. */
function removeIncoming(folderFd: number, incomingName: string, incomingFd: number, builtName: string): void {
  try {
    removeIfPresent(incomingFd, builtName);
    const held = statFd(incomingFd);
    const there = statAt(folderFd, incomingName);
    if (there.dev === held.dev && there.ino === held.ino) unlinkAt(folderFd, incomingName, { removeFolder: true });
  } catch {
    // Left behind (renamed away, or replaced by someone else's entry): a root-only empty folder, harmless.
  } finally {
    closeSync(incomingFd);
  }
}
