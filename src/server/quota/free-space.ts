// Free space on the file system holding a folder, as an unprivileged writer sees it (statfs f_bavail).
import { statfs } from 'node:fs/promises';

export async function freeBytesOf(folder: string): Promise<number> {
  const stats = await statfs(folder);
  return stats.bavail * stats.bsize;
}
