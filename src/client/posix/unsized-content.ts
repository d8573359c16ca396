// Files of the kernel's pseudo file systems say their size is 0 and read their content all the same
// (/proc/sys/kernel/random/poolsize reads "256", a cgroup's memory.stat a page): read no further than
// their size, as every other file is, they were stored empty and the backup exited 0. Such a file is
// read to its end once, up to a bound, as restic and borg read them. Where a read takes what it reads
// (/proc/kmsg, tracefs's trace_pipe; debugfs holds any driver's files) it is not read but listed as not
// in the backup. Other file systems' files are read within their size (file-content.ts says why).
import { readSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import { fileSystemTypeOf, handlePath } from './at';

/** statfs(2) f_type of the file systems whose size-0 files are read to their end. */
const READ_TO_END = new Map<number, string>([
  [0x9fa0, 'procfs'], [0x27e0eb, 'cgroup'], [0x63677270, 'cgroup2'], [0x62656570, 'configfs'],
  [0x73636673, 'securityfs'],
]);
/**
 * statfs(2) f_type of the file systems whose size-0 files are never read: a read may take what it reads
 * (tracefs's trace_pipe), or do what a driver makes it do (debugfs, a sysfs binary attribute; sysfs's
 * text attributes say 4096 bytes and are read within it, file-content.ts).
 */
const NEVER_READ = new Map<number, string>([[0x74726163, 'tracefs'], [0x64626720, 'debugfs'], [0x62656572, 'sysfs']]);
/** More than any such file a backup has reason to hold: /proc/<pid>/smaps of a large process is a few MiB. */
const MAX_UNSIZED_BYTES = 16 * 1024 * 1024;
const READ_STEP = 64 * 1024;

export class UnsizedContentError extends Error {
  constructor(readonly code: string) {
    super(code);
    this.name = 'UnsizedContentError';
  }
}

/**
 * The content of a pseudo file system's file of size 0 opened as `fd` (READ_TO_END), or undefined for
 * any other file. Throws UnsizedContentError, reading nothing, for kmsg on procfs (a read takes the
 * kernel's messages from syslog) and for tracefs and debugfs files, and for one that reads more than
 * MAX_UNSIZED_BYTES. The fd is non-blocking (the walker's): a read with nothing to give fails, never waits.
 */
export function unsizedContentOf(fd: number): Buffer | undefined {
  let type: number;
  try {
    type = fileSystemTypeOf(fd);
  } catch {
    return undefined;
  }
  const neverRead = NEVER_READ.get(type);
  if (neverRead !== undefined) throw new UnsizedContentError(`a ${neverRead} file, whose size says 0, and a read may take what it reads: not read`);
  const fileSystem = READ_TO_END.get(type);
  if (fileSystem === undefined) return undefined;
  // By its name, wherever procfs is mounted (a chroot's or a container's /proc too).
  if (fileSystem === 'procfs' && basename(readlinkSync(handlePath(fd))) === 'kmsg') {
    throw new UnsizedContentError('a read of kmsg takes the kernel\'s messages from syslog: not read');
  }
  const parts: Buffer[] = [];
  let total = 0;
  for (;;) {
    const part = Buffer.allocUnsafe(READ_STEP);
    const bytesRead = readSync(fd, part, 0, READ_STEP, total);
    if (bytesRead === 0) return Buffer.concat(parts, total);
    parts.push(part.subarray(0, bytesRead));
    total += bytesRead;
    if (total > MAX_UNSIZED_BYTES) throw new UnsizedContentError(`a ${fileSystem} file whose size says 0 reads more than ${MAX_UNSIZED_BYTES} bytes`);
  }
}
