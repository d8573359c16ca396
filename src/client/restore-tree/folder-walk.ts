// Walks from the held root to an entry's folder: each component is opened with O_NOFOLLOW|O_DIRECTORY
// (made first with mkdirat when asked), so a symlink anywhere on the way is refused, whoever made it.
import { mkdirAt, openFolderHandleAt, readlinkAt, statAtIfExists, entryKind } from '../posix/at';
import { NotAFolderError, RestoreSystemError, SymlinkInPathError } from './errors';
import type { FolderCache } from './folder-cache';

export interface Located {
  readonly entryPath: Buffer;
  /** Components of the entry below the root; empty for the root itself. */
  readonly components: readonly Buffer[];
}

export interface FolderLease {
  readonly fd: number;
  /** Gives the fd back to the cache (idempotent); the caller must not use it afterwards. */
  release(): void;
}

export class FolderWalker {
  constructor(
    private readonly rootFd: number,
    private readonly cache: FolderCache,
    private readonly newFolderMode: number,
    private readonly localPathOf: (components: readonly Buffer[]) => string,
  ) {}

  /**
   * Leases the folder holding the entry, walking from the deepest cached folder: each missing
   * component is opened with O_NOFOLLOW|O_DIRECTORY (made first with mkdirat when create is set);
   * a symlink there is refused whoever made it. undefined when !create and a folder is missing.
   */
  leaseParent(entry: Located, create: boolean): FolderLease | undefined {
    const folders = entry.components.slice(0, -1);
    const keys = [''];
    for (const component of folders) keys.push(`${keys[keys.length - 1]}/${component.toString('latin1')}`);
    let depth = folders.length;
    let fd: number | undefined;
    for (; depth > 0; depth--) {
      fd = this.cache.lease(keys[depth]);
      if (fd !== undefined) break;
    }
    let current: FolderLease = depth === 0 ? { fd: this.rootFd, release: () => undefined } : this.leased(keys[depth], fd as number);
    try {
      for (; depth < folders.length; depth++) {
        const child = this.openChild(current.fd, folders[depth], entry, folders.slice(0, depth + 1), create);
        if (child === undefined) return undefined;
        this.cache.addLeased(keys[depth + 1], child);
        current.release();
        current = this.leased(keys[depth + 1], child);
      }
      const result = current;
      current = { fd: -1, release: () => undefined }; // handed to the caller, not released below
      return result;
    } finally {
      current.release();
    }
  }

  private leased(key: string, fd: number): FolderLease {
    let isReleased = false;
    return {
      fd,
      release: () => {
        if (isReleased) return;
        isReleased = true;
        this.cache.release(key);
      },
    };
  }

  private openChild(parentFd: number, name: Buffer, entry: Located, folder: readonly Buffer[], create: boolean): number | undefined {
    try {
      return openFolderHandleAt(parentFd, name);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        if (!create) return undefined;
        try {
          mkdirAt(parentFd, name, this.newFolderMode);
        } catch (mkdirError) {
          if ((mkdirError as NodeJS.ErrnoException).code !== 'EEXIST') {
            throw new RestoreSystemError(entry.entryPath, this.localPathOf(folder), 'create folder', mkdirError);
          }
        }
        try {
          return openFolderHandleAt(parentFd, name);
        } catch (retryError) {
          return this.refuse(parentFd, name, entry, folder, retryError);
        }
      }
      return this.refuse(parentFd, name, entry, folder, error);
    }
  }

  /** Explains why a component did not open as a folder: a symlink, something else, or a system error. */
  private refuse(parentFd: number, name: Buffer, entry: Located, folder: readonly Buffer[], error: unknown): never {
    const code = (error as NodeJS.ErrnoException).code;
    const localPath = this.localPathOf(folder);
    if (code === 'ELOOP' || code === 'ENOTDIR') {
      const stats = statAtIfExists(parentFd, name);
      if (stats !== undefined && entryKind(stats.mode) === 'symlink') {
        throw new SymlinkInPathError(entry.entryPath, localPath, readlinkAt(parentFd, name));
      }
      if (stats !== undefined && entryKind(stats.mode) !== 'folder') throw new NotAFolderError(entry.entryPath, localPath);
    }
    throw new RestoreSystemError(entry.entryPath, localPath, 'open folder', error);
  }
}

/** The cache key of a folder: its components joined by "/", bytes kept one-to-one as latin1. */
export function folderKey(components: readonly Buffer[]): string {
  return components.map((component) => `/${component.toString('latin1')}`).join('');
}
