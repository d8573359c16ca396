// Maps a backed-up absolute path to where it is restored, and refuses anything that would write
// outside the target: unsafe paths, and any symlink on the way (burp 2.2.14, duplicacy #691).
import { lstat } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { entryPathProblem } from '../common/entry-path';
import { CorruptError } from '../common/errors';

export class RestoreTarget {
  /** Folders already proven to be real directories (not symlinks) below the root. */
  private readonly verifiedFolders = new Set<string>();
  /** Symlinks this restore created: nothing may be written through them. */
  private readonly createdLinks = new Set<string>();

  /** root: the --to folder, or '/' to restore to the original paths. */
  constructor(readonly root: string) {}

  get isOriginalLocation(): boolean {
    return this.root === '/';
  }

  /** The local path for an entry; throws for a path that could escape the target. */
  localPath(entryPath: string): string {
    const problem = entryPathProblem(entryPath);
    if (problem !== undefined) throw new CorruptError(`refusing to restore ${JSON.stringify(entryPath)}: ${problem}`);
    return this.isOriginalLocation ? entryPath : join(this.root, entryPath);
  }

  noteCreatedLink(localPath: string): void {
    this.createdLinks.add(localPath);
  }

  /**
   * Proves every existing folder between the root and localPath is a real directory. In a --to
   * restore no symlink is allowed there at all; to original paths only the ones this restore made are refused.
   */
  async checkParents(localPath: string): Promise<void> {
    const parent = dirname(localPath);
    const chain: string[] = [];
    for (let folder = parent; folder.length >= this.root.length && !this.verifiedFolders.has(folder); folder = dirname(folder)) {
      chain.push(folder);
      if (folder === this.root || folder === dirname(folder)) break;
    }
    for (const folder of chain.reverse()) {
      const isBelowRoot = folder !== this.root && folder.startsWith(this.root === sep ? sep : this.root + sep);
      const stats = await lstat(folder).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return undefined;
        throw error;
      });
      if (stats === undefined) return; // not created yet: the caller creates it as a real directory
      if (stats.isSymbolicLink() && (this.createdLinks.has(folder) || (!this.isOriginalLocation && isBelowRoot))) {
        throw new CorruptError(`refusing to restore ${localPath}: ${folder} is a symlink, writing through it could leave the target`);
      }
      this.verifiedFolders.add(folder);
    }
  }
}
