// A lock file held with flock(2), holding its owner's PID for messages only. The kernel lets go of
// the lock when its holder dies (SIGKILL, power loss), so no process ever judges a lock stale: when
// that was judged by the PID in the file, two processes that found the same dead owner's file could
// both remove it and both go on holding the lock (the second removed the one the first had just made).
import { closeSync, constants, fstatSync, ftruncateSync, openSync, readSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { posixAddon } from './addon';
import { BackupError, BusyError } from '../../common/errors';

/** Tries when each lock taken was on a file its releasing holder had just removed from the name. */
const ATTEMPTS = 16;

/** flock refused by the file system itself (some FUSE and network mounts). */
export const NO_LOCKS: ReadonlySet<string> = new Set(['ENOLCK', 'EOPNOTSUPP', 'ENOTSUP', 'ENOSYS']);

/** The PID its holder wrote, when the file names one, and what the holder said it is doing (a word after it). */
function ownerOf(fd: number): { pid: number; label?: string } | undefined {
  const buffer = Buffer.alloc(64);
  const length = readSync(fd, buffer, 0, buffer.length, 0);
  const match = /^(\d+)(?: ([a-z-]+))?$/.exec(buffer.subarray(0, length).toString('latin1').trim());
  const owner = Number(match?.[1]);
  if (match === null || !Number.isSafeInteger(owner) || owner <= 0) return undefined;
  return match[2] === undefined ? { pid: owner } : { pid: owner, label: match[2] };
}

/**
 * The PID, for the messages of whoever finds the lock taken; the lock itself is the flock. A full disk
 * (ENOSPC, EDQUOT) or a failing one leaves the file empty, and a second taker is told only that another
 * process holds it: never a reason to fail the holder, which has the lock.
 */
function writePid(fd: number, label: string | undefined): void {
  try {
    ftruncateSync(fd, 0);
    writeSync(fd, `${process.pid}${label === undefined ? '' : ` ${label}`}\n`, 0);
  } catch {
    // A part written is no PID; an old one would name the wrong process.
    try {
      ftruncateSync(fd, 0);
    } catch {
      // The file is the previous holder's name only if this failed too; ownerOf reads what is there.
    }
  }
}

/** Whether `file` still names the open file `fd`: a holder removes the name before it lets go. */
function isNamedBy(fd: number, file: string): boolean {
  const held = fstatSync(fd);
  try {
    const named = statSync(file);
    return named.ino === held.ino && named.dev === held.dev;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/**
 * Returns the release function; throws BusyError with describeOwner's text while another process
 * (or another call in this one) holds it. The lock lasts while its descriptor is open: O_CLOEXEC
 * (libuv's default) keeps it from children, which would otherwise hold it past this process.
 */
export async function acquirePidLock(file: string, describeOwner: (pid: number, label?: string) => string, label?: string): Promise<() => Promise<void>> {
  const addon = posixAddon();
  const { LOCK_EX, LOCK_NB } = addon.constants;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const fd = openSync(file, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
    let isHeld = false;
    try {
      try {
        addon.flock(fd, LOCK_EX | LOCK_NB);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? '';
        if (code === 'EAGAIN' || code === 'EWOULDBLOCK') {
          const owner = ownerOf(fd);
          throw new BusyError(owner === undefined ? `cannot take the lock ${file}: another process holds it` : describeOwner(owner.pid, owner.label));
        }
        if (NO_LOCKS.has(code)) {
          throw new BackupError('IO', `cannot lock ${file}: its file system does not support locks (${code}); put it on a local file system`, { cause: error });
        }
        throw error;
      }
      // Taken on a file its holder had removed from the name as it let go: not the lock; try the name again.
      if (!isNamedBy(fd, file)) continue;
      isHeld = true;
      writePid(fd, label);
      let isReleased = false;
      return async () => {
        // Once only: a second close could close whatever file took this descriptor number since.
        if (isReleased) return;
        isReleased = true;
        // The name goes first, while still held: whoever opened this file meanwhile sees it is no longer
        // the lock (isNamedBy) once it gets it, instead of two processes holding two files of one name.
        try {
          // Only while the name is still this lock's: if it was removed from outside and another process
          // made and took a new one, removing that would let a third take the lock beside it.
          if (isNamedBy(fd, file)) unlinkSync(file);
        } catch {
          // Left in place (a read-only folder, say): harmless, the lock itself ends with the close.
        } finally {
          closeSync(fd);
        }
      };
    } finally {
      if (!isHeld) closeSync(fd);
    }
  }
  throw new BusyError(`cannot take the lock ${file}: it was taken and released ${ATTEMPTS} times while this process tried`);
}
