// A folder in which no one but root (this user) may add, rename or replace an entry, nor above it: path
// strings below it keep naming the files we mean, whoever else runs on the machine, so a root loader may use them.
import { closeSync } from 'node:fs';
import { resolve } from 'node:path';
import { errorMessage } from '../../common/errors';
import { statFd } from '../posix/at';
import { operatorRealFolder, PlantableSymlinkError, type ResolvedFolder } from '../posix/operator-real-path';

const S_ISVTX = 0o1000;

/** Someone other than root (this user) may replace this folder or what is in it. */
export class UntrustedFolderError extends Error {
  readonly code = 'UNTRUSTED_FOLDER';
  constructor(readonly folder: string, why: string) {
    super(`${folder} ${why}`);
  }
}

/**
 * The folder, held, reached without a symlink someone else could have planted (PlantableSymlinkError).
 * Refused (UntrustedFolderError) when someone other than root (this user) owns it or a folder above it
 * that could be swapped, or may create entries in it: a sticky folder (/tmp) passes only with
 * `allowsSticky`, for callers that only make entries of their own in it under names no one can predict.
 */
export function openTrustedFolder(path: string, options: { allowsSticky?: boolean } = {}): ResolvedFolder {
  const resolved = operatorRealFolder(resolve(path), 'owned');
  try {
    const stats = statFd(resolved.fd);
    if (resolved.replaceableAt !== undefined) {
      throw new UntrustedFolderError(resolved.path, `lies below ${resolved.replaceableAt}, where someone other than root may replace folders`);
    }
    if (stats.uid !== 0 && stats.uid !== process.geteuid?.()) throw new UntrustedFolderError(resolved.path, `belongs to uid ${stats.uid}`);
    const isSticky = (stats.mode & S_ISVTX) !== 0;
    if ((stats.mode & 0o022) !== 0 && !(isSticky && options.allowsSticky === true)) {
      throw new UntrustedFolderError(resolved.path, `may be written to by others (mode ${(stats.mode & 0o7777).toString(8)})`);
    }
    return resolved;
  } catch (error) {
    closeSync(resolved.fd);
    throw error;
  }
}

/**
 * Why the callers may not trust this folder, or undefined only once it was checked and no one but root
 * (this user) could swap it or what is in it. Fails closed: besides openTrustedFolder's refusal and a
 * symlink someone else could have planted on the way, a check that could not be made (EACCES of root on
 * an NFS mount with root_squash, ELOOP, the folder gone at the check and back by the time it is used) is
 * a reason too, for every caller works on the folder by path afterwards.
 */
export function untrustedFolderReason(path: string): string | undefined {
  try {
    closeSync(openTrustedFolder(path).fd);
    return undefined;
  } catch (error) {
    if (error instanceof UntrustedFolderError || error instanceof PlantableSymlinkError) return error.message;
    return `${resolve(path)} could not be checked (${errorMessage(error)})`;
  }
}
