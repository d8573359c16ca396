// Space the store takes on disk, as `du` counts it (allocated blocks, each inode once).
// Walks the folder asynchronously so a large store never blocks the event loop for long.
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';

export async function diskUsage(folder: string): Promise<number> {
  const seen = new Set<string>();
  let total = 0;
  const pending = [folder];
  while (pending.length > 0) {
    const current = pending.pop()!;
    let stats;
    try {
      stats = await lstat(current);
    } catch (error) {
      // Packs come and go while GC runs; a file gone since readdir takes no space any more.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    const inode = `${stats.dev}:${stats.ino}`;
    if (seen.has(inode)) continue;
    seen.add(inode);
    total += stats.blocks * 512;
    if (stats.isDirectory()) {
      const names = await readdir(current).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return [] as string[];
        throw error;
      });
      for (const name of names) pending.push(path.join(current, name));
    }
  }
  return total;
}
