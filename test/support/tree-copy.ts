// Copies a tree through the restore tree's own operations, the way a restorer will: folders first and
// their metadata after their content, files through temp names and the sparse extent writer, links by inode.
import { closeSync, read } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { type PosixStat, entryKind, openAt, openFolderAt, posixConstants, readFolderAt, readlinkAt, statAt, statFd } from '../../src/client/posix/at';
import { type DataExtent, dataExtents } from '../../src/client/posix/data-extents';
import { OwnerNames } from '../../src/client/posix/owners';
import { type XattrTarget, readXattrs } from '../../src/client/posix/xattrs';
import { createExtentWriter } from '../../src/client/restore-tree/extent-writer';
import { RestoreTreeError } from '../../src/client/restore-tree/errors';
import type { EntryMetadata } from '../../src/client/restore-tree/metadata';
import type { RestoreTree } from '../../src/client/restore-tree/restore-tree';

const readAsync = promisify(read);

export interface CopyReport {
  /** Refusals and metadata the restore tree could not set (e.g. devices or trusted.* without root). */
  readonly warnings: string[];
}

/** Copies sourceRoot (any path length below it) to the entry path `destination` of tree. */
export async function copyWithRestoreTree(sourceRoot: string, tree: RestoreTree, destination: Buffer = Buffer.from('/')): Promise<CopyReport> {
  const report: CopyReport = { warnings: [] };
  const owners = new OwnerNames();
  const linked = new Map<bigint, Buffer>();
  const rootFd = openFolderAt(posixConstants().AT_FDCWD, sourceRoot);
  try {
    tree.makeFolder(destination);
    await copyFolder(rootFd, destination, tree, owners, linked, report);
    attempt(report, () => tree.setMetadata(destination, metadataOf(statFd(rootFd), { fd: rootFd }, owners)));
  } finally {
    closeSync(rootFd);
  }
  return report;
}

function child(parent: Buffer, name: Buffer): Buffer {
  return parent.length === 1 ? Buffer.concat([parent, name]) : Buffer.concat([parent, Buffer.from('/'), name]);
}

async function copyFolder(
  folderFd: number,
  entryPath: Buffer,
  tree: RestoreTree,
  owners: OwnerNames,
  linked: Map<bigint, Buffer>,
  report: CopyReport,
): Promise<void> {
  for (const name of readFolderAt(folderFd)) {
    const stats = statAt(folderFd, name);
    const target = child(entryPath, name);
    const metadata = metadataOf(stats, { dirfd: folderFd, name }, owners);
    const kind = entryKind(stats.mode);
    if (kind !== 'folder' && stats.nlink > 1) {
      const first = linked.get(stats.ino);
      if (first !== undefined) {
        tree.makeHardLink(first, target);
        continue;
      }
      linked.set(stats.ino, target);
    }
    switch (kind) {
      case 'folder': {
        tree.makeFolder(target);
        const childFd = openFolderAt(folderFd, name);
        try {
          await copyFolder(childFd, target, tree, owners, linked, report);
        } finally {
          closeSync(childFd);
        }
        break;
      }
      case 'file':
        await copyFile(folderFd, name, stats, target, tree, metadata, report);
        continue;
      case 'symlink':
        tree.makeSymlink(target, readlinkAt(folderFd, name));
        break;
      case 'fifo':
        tree.makeFifo(target, stats.mode);
        break;
      case 'socket':
        tree.makeSocket(target, stats.mode);
        break;
      case 'char-device':
      case 'block-device':
        if (!attempt(report, () => tree.makeDevice(target, kind === 'char-device' ? 'char' : 'block', stats.rdev, stats.mode))) continue;
        break;
      default:
        report.warnings.push(`unknown entry kind at ${tree.localPath(target)}`);
        continue;
    }
    attempt(report, () => tree.setMetadata(target, metadata));
  }
}

async function copyFile(
  folderFd: number,
  name: Buffer,
  stats: PosixStat,
  target: Buffer,
  tree: RestoreTree,
  metadata: EntryMetadata,
  report: CopyReport,
): Promise<void> {
  const { O_RDONLY, O_NOFOLLOW } = posixConstants();
  const sourceFd = openAt(folderFd, name, O_RDONLY | O_NOFOLLOW);
  const temp = tree.createFile(target);
  try {
    const extents = dataExtents(sourceFd);
    await pipeline(Readable.from(extentData(sourceFd, extents)), createExtentWriter(temp.fd, extents, stats.size));
    attempt(report, () => temp.setMetadata(metadata));
    temp.commit();
  } catch (error) {
    temp.abort();
    throw error;
  } finally {
    closeSync(sourceFd);
  }
}

/** The extents' bytes back to back, a MiB at a time. */
async function* extentData(fd: number, extents: readonly DataExtent[]): AsyncGenerator<Buffer> {
  for (const extent of extents) {
    for (let done = 0; done < extent.length; ) {
      const buffer = Buffer.alloc(Math.min(1024 * 1024, extent.length - done));
      const { bytesRead } = await readAsync(fd, buffer, 0, buffer.length, extent.offset + done);
      if (bytesRead === 0) throw new Error(`file shrank while copied at ${extent.offset + done}`);
      done += bytesRead;
      yield buffer.subarray(0, bytesRead);
    }
  }
}

function metadataOf(stats: PosixStat, xattrTarget: XattrTarget, owners: OwnerNames): EntryMetadata {
  return {
    owner: owners.describe(stats.uid, stats.gid),
    mode: stats.mode & 0o7777,
    xattrs: readXattrs(xattrTarget),
    atimeNs: stats.atimeNs,
    mtimeNs: stats.mtimeNs,
  };
}

/** Runs a step whose typed refusal is a warning (as a restorer reports it); true when it succeeded. */
function attempt(report: CopyReport, step: () => void): boolean {
  try {
    step();
    return true;
  } catch (error) {
    if (!(error instanceof RestoreTreeError)) throw error;
    report.warnings.push(error.message);
    return false;
  }
}
