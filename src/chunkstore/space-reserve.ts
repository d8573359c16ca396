// A few MiB set aside on the store's disk. When a full disk leaves the catalog unable to record
// the cleanup of a failed backup (SQLITE_FULL), the reserve is given up so the cleanup succeeds;
// it is taken again once space returns. Without it a full store needed a restart.
import { open, stat, statfs, unlink } from 'node:fs/promises';
import { join } from 'node:path';

const MIB = 1024 * 1024;

export class SpaceReserve {
  private readonly file: string;
  private isHeld = false;

  constructor(directory: string) {
    this.file = join(directory, 'reserve');
  }

  /** Takes the reserve if it is not held and the disk has room for it twice over. Never throws. */
  async take(): Promise<void> {
    if (this.isHeld) return;
    try {
      const disk = await statfs(join(this.file, '..'));
      const total = disk.blocks * disk.bsize;
      // 2 % of a small disk (a test's tmpfs), 8 MiB of a big one: enough to delete a backup's rows.
      const size = Math.max(MIB, Math.min(8 * MIB, Math.floor(total * 0.02)));
      if (disk.bavail * disk.bsize < 2 * size) return;
      const handle = await open(this.file, 'w', 0o600);
      try {
        const zeros = Buffer.alloc(MIB);
        for (let written = 0; written < size; written += MIB) await handle.write(zeros, 0, MIB, written);
        await handle.sync();
      } finally {
        await handle.close();
      }
      this.isHeld = true;
    } catch {
      await unlink(this.file).catch(() => undefined);
    }
  }

  /** Gives the space back to the file system; true if there was any to give. */
  async release(): Promise<boolean> {
    const wasHeld = this.isHeld;
    this.isHeld = false;
    await unlink(this.file).catch(() => undefined);
    return wasHeld;
  }
}

/**
 * Before the catalog opens: a reserve left by the last process on a disk with less free space than it
 * holds is given up, so the open (an upgrade of an older catalog, the recovery of a crash) has room to
 * write; SpaceReserve.take() makes it again once there is room. True if it was given up. Never throws.
 */
export async function giveUpReserveIfFull(directory: string): Promise<boolean> {
  const file = join(directory, 'reserve');
  try {
    const [reserve, disk] = await Promise.all([stat(file), statfs(directory)]);
    if (disk.bavail * disk.bsize >= reserve.size) return false;
    await unlink(file);
    return true;
  } catch {
    return false;
  }
}
