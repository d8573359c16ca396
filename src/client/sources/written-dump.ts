// A restored dump file as the restore wrote and checked it, and the check its load makes first: the file
// at the path must still be that inode, of that size, holding those bytes, or it is not loaded.
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';

export interface WrittenDump {
  readonly dev: bigint | number;
  readonly ino: bigint | number;
  readonly size: number;
  /** SHA-256 of the bytes written (hex); empty when not known. */
  readonly sha256: string;
}

const READ_SIZE = 1 << 20;

/**
 * Why the file at `path` is no longer the dump the restore wrote, or undefined when it is. A load reads what is at
 * the path when it runs: a dumper writing into it (a backup beside the restore, opening its FIFO by name), a file
 * renamed over it, or a change in place would otherwise be loaded into the live database as the backup's.
 */
export async function writtenDumpChange(path: string, written: WrittenDump): Promise<string | undefined> {
  let handle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    return `it cannot be opened (${(error as NodeJS.ErrnoException).code ?? String(error)})`;
  }
  try {
    const stats = await handle.stat({ bigint: true });
    if (!stats.isFile()) return 'it is no longer a regular file';
    if (stats.dev !== BigInt(written.dev) || stats.ino !== BigInt(written.ino)) return 'another file has taken its name';
    if (stats.size !== BigInt(written.size)) return `its size changed from ${written.size} to ${stats.size} bytes`;
    if (written.sha256 === '') return undefined;
    const hash = createHash('sha256');
    const buffer = Buffer.alloc(READ_SIZE);
    let position = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      position += bytesRead;
    }
    if (position !== written.size) return `it holds ${position} bytes, not the ${written.size} written`;
    return hash.digest('hex') === written.sha256 ? undefined : 'its content changed since the restore wrote and checked it';
  } finally {
    await handle.close();
  }
}
