// Reads a file a configuration names (a config file, a certificate, a client record) without ever
// blocking: a FIFO, a device or a folder in its place is refused before a single byte is read.
import { closeSync, constants, fstatSync, openSync, readSync, statSync, lstatSync, type Stats } from 'node:fs';

/** Configuration files, certificates and keys are a few KiB; anything this big is not one. */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;

/** Why a path could not be read, as a phrase that follows the path ("… is a FIFO, not a regular file"). */
export class FileProblem extends Error {
  constructor(readonly problem: string, readonly code?: string) {
    super(problem);
  }
}

/** "a FIFO", "a folder", … for messages; undefined for a regular file. */
export function kindOf(stats: Stats): string | undefined {
  if (stats.isFile()) return undefined;
  if (stats.isDirectory()) return 'a folder';
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isSymbolicLink()) return 'a symlink';
  return 'not a regular file';
}

/** The phrase for an errno met while opening or examining `file`. */
export function describeErrno(file: string, error: unknown): FileProblem {
  const code = (error as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT': return new FileProblem(isDanglingSymlink(file) ? 'is a symlink whose target does not exist' : 'does not exist', code);
    case 'ENOTDIR': return new FileProblem('does not exist (a component of the path is not a folder)', code);
    case 'ENAMETOOLONG': return new FileProblem('is too long a path for this system', code);
    case 'ELOOP': return new FileProblem('is a loop of symlinks', code);
    case 'EACCES': case 'EPERM': return new FileProblem(`cannot be read: permission denied (${code})`, code);
    // open(2) of a Unix socket.
    case 'ENXIO': return new FileProblem('is a socket, not a regular file', code);
    default: return new FileProblem(`cannot be read (${code ?? String(error)})`, code);
  }
}

function isDanglingSymlink(file: string): boolean {
  try {
    return lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}

/**
 * stat first, so a FIFO or a device is never opened at all; then open with O_NONBLOCK (a FIFO
 * swapped in meanwhile opens at once instead of waiting for a writer) and check the opened file
 * again with fstat, which is what is actually read.
 */
export function readRegularFile(file: string, maxBytes = MAX_CONFIG_FILE_BYTES): Buffer {
  let stats: Stats;
  try {
    stats = statSync(file);
  } catch (error) {
    throw describeErrno(file, error);
  }
  refuseIrregular(stats, maxBytes);
  let descriptor: number;
  try {
    descriptor = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (error) {
    throw describeErrno(file, error);
  }
  try {
    const opened = fstatSync(descriptor);
    refuseIrregular(opened, maxBytes);
    const pieces: Buffer[] = [];
    let length = 0;
    for (;;) {
      const piece = Buffer.alloc(Math.max(4096, Math.min(opened.size + 1, maxBytes + 1)));
      const count = readSync(descriptor, piece, 0, piece.length, null);
      if (count === 0) break;
      pieces.push(piece.subarray(0, count));
      length += count;
      // A file that grew past the limit since fstat is still refused.
      if (length > maxBytes) throw new FileProblem(`is larger than ${maxBytes} bytes: not a configuration file`);
    }
    return Buffer.concat(pieces, length);
  } catch (error) {
    if (error instanceof FileProblem) throw error;
    throw describeErrno(file, error);
  } finally {
    closeSync(descriptor);
  }
}

function refuseIrregular(stats: Stats, maxBytes: number): void {
  const kind = kindOf(stats);
  if (kind !== undefined) throw new FileProblem(`is ${kind}, not a regular file`);
  if (stats.size > maxBytes) throw new FileProblem(`is larger than ${maxBytes} bytes: not a configuration file`);
}
