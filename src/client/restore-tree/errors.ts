// Typed refusals and failures of the restore tree. Each names the entry (as recorded in the backup)
// and the local path involved, with bytes escaped so a hostile name cannot forge a message.
import { BackupError } from '../../common/errors';
import { escapeBytes } from '../../common/escape-bytes';
import type { PlantableSymlinkError } from '../posix/operator-real-path';

/**
 * What a refusal is about: an entry of the backup, or the restore target (its own entry path is "/", which
 * said "cannot restore "/"" of a --to folder the operator typed).
 */
function subjectOf(entryPath: Buffer, restoreTarget: string | undefined): string {
  return restoreTarget === undefined ? `"${escapeBytes(entryPath)}"` : `to "${restoreTarget}"`;
}

/** Stable reasons a restorer can switch on (a refusal becomes a warning and exit 3, not a crash). */
export type RestoreTreeReason = 'UNSAFE_PATH' | 'SYMLINK_IN_PATH' | 'UNTRUSTED_SYMLINK' | 'NOT_A_FOLDER' | 'NEEDS_ROOT' | 'METADATA' | 'SYSTEM' | 'LINK_TARGET_CHANGED' | 'REPLACED';

export abstract class RestoreTreeError extends BackupError {
  abstract readonly reason: RestoreTreeReason;
  readonly entryPath: Buffer;
  constructor(code: 'CORRUPT' | 'IO', entryPath: Buffer, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.entryPath = entryPath;
  }
}

/** The entry's path is not absolute, or has an empty, "." or ".." component, or a NUL byte: hostile or corrupt data. */
export class UnsafeEntryPathError extends RestoreTreeError {
  readonly reason = 'UNSAFE_PATH';
  constructor(entryPath: Buffer, problem: string) {
    super('CORRUPT', entryPath, `refusing to restore "${escapeBytes(entryPath)}": ${problem}`);
  }
}

/** A component on the way to the entry is a symlink: nothing is written through one, whoever made it. */
export class SymlinkInPathError extends RestoreTreeError {
  readonly reason = 'SYMLINK_IN_PATH';
  readonly symlinkPath: string;
  readonly linkTarget: Buffer | undefined;
  /** restoreTarget: the refusal is of the --to folder itself (on its way), not of an entry. */
  constructor(entryPath: Buffer, symlinkPath: string, linkTarget: Buffer | undefined, restoreTarget?: string) {
    const target = linkTarget === undefined ? '' : ` (-> "${escapeBytes(linkTarget)}")`;
    super(
      'IO',
      entryPath,
      `refusing to restore ${subjectOf(entryPath, restoreTarget)}: "${symlinkPath}" is a symlink${target}; nothing is written through a symlink`,
    );
    this.symlinkPath = symlinkPath;
    this.linkTarget = linkTarget;
  }
}

/** A symlink on the way to the restore target that someone else could have made (operator-real-path.ts, rule `owned`). */
export class UntrustedSymlinkError extends RestoreTreeError {
  readonly reason = 'UNTRUSTED_SYMLINK';
  readonly symlinkPath: string;
  constructor(cause: PlantableSymlinkError) {
    super('IO', Buffer.from('/'), `refusing to restore: ${cause.message}; name the folder it points to instead`, { cause });
    this.symlinkPath = cause.symlinkPath;
  }
}

/** A component on the way to the entry exists but is not a folder (a file, a FIFO, …). */
export class NotAFolderError extends RestoreTreeError {
  readonly reason = 'NOT_A_FOLDER';
  readonly folderPath: string;
  /** spelled: the path as the operator typed it, when symlinks on it led to folderPath; restoreTarget: as SymlinkInPathError's. */
  constructor(entryPath: Buffer, folderPath: string, spelled?: string, restoreTarget?: string) {
    const through = spelled === undefined ? '' : ` (where "${spelled}" leads)`;
    super('IO', entryPath, `cannot restore ${subjectOf(entryPath, restoreTarget)}: "${folderPath}"${through} exists and is not a folder`);
    this.folderPath = folderPath;
  }
}

/** Devices need root (CAP_MKNOD); the restorer reports this as a warning and goes on. */
export class NeedsRootError extends RestoreTreeError {
  readonly reason = 'NEEDS_ROOT';
  constructor(entryPath: Buffer, what: string) {
    super('IO', entryPath, `cannot restore "${escapeBytes(entryPath)}": creating ${what} needs root`);
  }
}

export interface MetadataFailure {
  /** owner, xattr <name>, mode, times */
  readonly step: string;
  readonly error: Error;
}

/** Some metadata could not be set; every other step was still applied. */
export class MetadataError extends RestoreTreeError {
  readonly reason = 'METADATA';
  readonly failures: readonly MetadataFailure[];
  constructor(entryPath: Buffer, localPath: string, failures: readonly MetadataFailure[]) {
    const list = failures.map((failure) => `${failure.step}: ${failure.error.message}`).join('; ');
    super('IO', entryPath, `restored "${localPath}" without some of its metadata: ${list}`);
    this.failures = failures;
  }
}

/** A system call failed on the entry (EEXIST, ENOSPC, EACCES, …); systemCode keeps the errno name. */
export class RestoreSystemError extends RestoreTreeError {
  readonly reason = 'SYSTEM';
  readonly systemCode: string | undefined;
  readonly localPath: string;
  constructor(entryPath: Buffer, localPath: string, operation: string, cause: unknown) {
    const code = (cause as NodeJS.ErrnoException | undefined)?.code;
    const text = cause instanceof Error ? cause.message : String(cause);
    super('IO', entryPath, `cannot ${operation} "${localPath}": ${text}`, { cause });
    this.systemCode = code;
    this.localPath = localPath;
  }
}

/**
 * A hard link's first name no longer holds the file this restore left there (another entry of the
 * backup was restored to the same path, as --strip can make two paths meet, or something else put a
 * file there): linked, the entry would share a foreign file's content and lose its own without a word.
 */
export class LinkTargetChangedError extends RestoreTreeError {
  readonly reason = 'LINK_TARGET_CHANGED';
  constructor(entryPath: Buffer, localPath: string, firstName: Buffer, firstLocalPath: string) {
    super('CORRUPT', entryPath, `${localPath}: not restored: it is a hard link to ${escapeBytes(firstName)}, but ${firstLocalPath} no longer holds `
      + 'the file this restore put there for it (another entry was restored to that path since, or something else replaced it); not linked to a foreign file');
  }
}

/**
 * What is at an entry's path is no longer what this restore made or found there (a user who may write
 * in its folder renamed it and put another entry, a hard link or a symlink under its name): its
 * metadata is not given to that, which would hand a stranger's file the backup's owner and mode.
 */
export class EntryReplacedError extends RestoreTreeError {
  readonly reason = 'REPLACED';
  readonly localPath: string;
  constructor(entryPath: Buffer, localPath: string, what: string) {
    super('IO', entryPath, `${localPath}: its owner, mode, attributes and times not set: ${what} was replaced during the restore `
      + '(what has its name now is not what this restore made or found there); left as it is');
    this.localPath = localPath;
  }
}
