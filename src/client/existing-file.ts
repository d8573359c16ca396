// The SHA-256 of a file already at a restore's destination, read through an fd the restore tree
// opened without following links: identical files are left alone, different ones are the policy's.
import { closeSync, read } from 'node:fs';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';

const readAsync = promisify(read);
const BLOCK = 1024 * 1024;

/** Closes fd unless keepOpen. */
export async function existingFileHash(fd: number, keepOpen = false): Promise<Buffer> {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(BLOCK);
  try {
    for (let position = 0; ;) {
      const { bytesRead } = await readAsync(fd, buffer, 0, BLOCK, position);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      position += bytesRead;
    }
  } finally {
    if (!keepOpen) closeSync(fd);
  }
  return hash.digest();
}
