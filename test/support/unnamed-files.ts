// A restore writes each file without a name (O_TMPFILE) until it is whole: what a test that watches a restore's
// progress by the bytes under its target must add, read from the restoring process's descriptors.
import { readdir, readlink, stat } from 'node:fs/promises';

/**
 * The sizes of the files without a name the process `pid` holds open in `folder` or below it: its descriptor of
 * such a file reads as `FOLDER/…/#INODE (deleted)`. Empty for a process gone (or pid undefined).
 */
export async function unnamedFileSizes(pid: number | undefined, folder: string): Promise<number[]> {
  if (pid === undefined) return [];
  const descriptors = await readdir(`/proc/${pid}/fd`).catch(() => []);
  const sizes = await Promise.all(descriptors.map(async (fd) => {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    if (!target.startsWith(`${folder}/`) || !target.endsWith(' (deleted)') || !target.includes('/#')) return undefined;
    return (await stat(`/proc/${pid}/fd/${fd}`).catch(() => undefined))?.size;
  }));
  return sizes.filter((size): size is number => size !== undefined);
}
