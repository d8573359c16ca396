// A procfs file says its size is 0 and reads its content all the same (/proc/sys/kernel/random/poolsize
// reads "256"): read no further than its size, as every other file is, it was stored empty and the
// backup exited 0. Such a file is read to its end once, up to a bound; restic and borg read them so.
// Other file systems' files are read within their size (file-content.ts says why).
import { readSync, readlinkSync, statfsSync } from 'node:fs';

/** statfs(2) f_type of procfs. */
const PROC_SUPER_MAGIC = 0x9fa0;
/** More than any procfs file a backup has reason to hold: /proc/<pid>/smaps of a large process is a few MiB. */
export const MAX_UNSIZED_BYTES = 16 * 1024 * 1024;
const READ_STEP = 64 * 1024;

export class UnsizedContentError extends Error {
  constructor(readonly code: string) {
    super(code);
    this.name = 'UnsizedContentError';
  }
}

/**
 * The content of a procfs file of size 0 opened as `fd`, or undefined for any other file. Throws
 * UnsizedContentError for /proc/kmsg (a read takes the kernel's messages from syslog) and for one that
 * reads more than MAX_UNSIZED_BYTES.
 */
export function unsizedContentOf(fd: number): Buffer | undefined {
  const handle = `/proc/self/fd/${fd}`;
  let type: number;
  try {
    type = statfsSync(handle).type;
  } catch {
    return undefined;
  }
  if (type !== PROC_SUPER_MAGIC) return undefined;
  if (readlinkSync(handle) === '/proc/kmsg') throw new UnsizedContentError('a read of /proc/kmsg takes the kernel\'s messages from syslog');
  const parts: Buffer[] = [];
  let total = 0;
  for (;;) {
    const part = Buffer.allocUnsafe(READ_STEP);
    const bytesRead = readSync(fd, part, 0, READ_STEP, total);
    if (bytesRead === 0) return Buffer.concat(parts, total);
    parts.push(part.subarray(0, bytesRead));
    total += bytesRead;
    if (total > MAX_UNSIZED_BYTES) throw new UnsizedContentError(`it says its size is 0 and reads more than ${MAX_UNSIZED_BYTES} bytes`);
  }
}
