// Small real file systems for disk-full tests: a tmpfs mounted on a folder (we run as root), whether this
// machine allows it at all, and ballast that leaves an exact amount of free space.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmdirSync } from 'node:fs';
import { open, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function mountTmpfs(folder: string, size: string): void {
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', folder], { stdio: 'pipe' });
}

export function unmountTmpfs(folder: string): void {
  execFileSync('umount', [folder], { stdio: 'pipe' });
}

/** Why this machine will not mount a tmpfs (root in a container may still be refused), or undefined if it will. */
export function tmpfsRefusal(): string | undefined {
  const probe = mkdtempSync(join(tmpdir(), 'cpsbackup-mount-probe-'));
  try {
    mountTmpfs(probe, '1m');
    unmountTmpfs(probe);
    return undefined;
  } catch (error) {
    return `cannot mount a tmpfs here (${(error as { stderr?: Buffer }).stderr?.toString().trim() || (error as Error).message}); `
      + 'a disk-full test needs a real small filesystem';
  } finally {
    rmdirSync(probe);
  }
}

/** Bytes an unprivileged writer could still put on the file system holding folder. */
export async function freeBytes(folder: string): Promise<number> {
  const disk = await statfs(folder);
  return disk.bavail * disk.bsize;
}

/** Writes file (zeros, really allocated on tmpfs) until about `leave` bytes stay free; returns its size. */
export async function fillLeaving(file: string, leave: number): Promise<number> {
  const size = Math.max(0, (await freeBytes(join(file, '..'))) - leave);
  const handle = await open(file, 'w');
  try {
    const block = Buffer.alloc(1024 * 1024);
    for (let written = 0; written < size; written += block.length) {
      await handle.write(block, 0, Math.min(block.length, size - written), written);
    }
  } finally {
    await handle.close();
  }
  return size;
}
