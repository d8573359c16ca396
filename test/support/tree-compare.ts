// Compares two trees as a faithful restore must keep them: names as bytes, kinds, hard-link groups,
// sparse blocks, owner, mode, mtime ns, xattrs, ACLs, devices, symlink targets and content (streamed).
import { createHash } from 'node:crypto';
import { closeSync, read } from 'node:fs';
import { promisify } from 'node:util';
import {
  type EntryKind,
  entryKind,
  openAt,
  openFolderAt,
  posixConstants,
  readFolderAt,
  readlinkAt,
  statAt,
  statFd,
  type PosixStat,
} from '../../src/client/posix/at';
import { dataExtents } from '../../src/client/posix/data-extents';
import { escapeBytes } from '../../src/common/escape-bytes';
import { splitDeviceNumber } from '../../src/client/posix/special-files';
import { ACL_ACCESS, ACL_DEFAULT, type Xattr, readXattrs } from '../../src/client/posix/xattrs';

const readAsync = promisify(read);

export type DifferenceKind =
  | 'missing'
  | 'extra'
  | 'type'
  | 'mode'
  | 'owner'
  | 'mtime'
  | 'xattr'
  | 'acl'
  | 'hardlink'
  | 'blocks'
  | 'rdev'
  | 'symlink'
  | 'size'
  | 'content';

export interface TreeDifference {
  /** Path below the compared root, escaped (escapeBytes per component); "." is the root. */
  readonly path: string;
  readonly kind: DifferenceKind;
  readonly detail: string;
}

export interface CompareOptions {
  /** Compare the roots' own metadata too (default true). */
  readonly compareRoot?: boolean;
  /** st_blocks of a sparse file may differ by this many bytes … (default 256 KiB) */
  readonly blocksToleranceBytes?: number;
  /** … or by this fraction of the larger (default 0.1), whichever is more. */
  readonly blocksToleranceFraction?: number;
}

interface EntryRecord {
  readonly kind: EntryKind;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly blocks: number;
  readonly nlink: number;
  readonly ino: bigint;
  readonly mtimeNs: bigint;
  readonly rdev: bigint;
  readonly xattrs: ReadonlyMap<string, Buffer>;
  readonly linkTarget?: Buffer;
  readonly digest?: string;
}

interface TreeSnapshot {
  /** Keyed by the relative path's bytes as latin1 ('' is the root): one-to-one with the bytes. */
  readonly entries: ReadonlyMap<string, EntryRecord>;
  /** Inode → every key naming it (non-folders only). */
  readonly inodes: ReadonlyMap<bigint, readonly string[]>;
}

/** Differences between expected and actual, sorted by path; empty when the trees match. */
export async function compareTrees(expectedRoot: string, actualRoot: string, options: CompareOptions = {}): Promise<TreeDifference[]> {
  const expected = await snapshotTree(expectedRoot);
  const actual = await snapshotTree(actualRoot);
  const differences: TreeDifference[] = [];
  const keys = [...new Set([...expected.entries.keys(), ...actual.entries.keys()])].sort();
  for (const key of keys) {
    if (key === '' && options.compareRoot === false) continue;
    const path = displayPath(key);
    const before = expected.entries.get(key);
    const after = actual.entries.get(key);
    if (after === undefined) differences.push({ path, kind: 'missing', detail: `${before?.kind} is missing` });
    else if (before === undefined) differences.push({ path, kind: 'extra', detail: `unexpected ${after.kind}` });
    else differences.push(...compareEntries(path, before, after, expected, actual, options));
  }
  return differences;
}

/** One line per difference, for assertion messages. */
export function formatDifferences(differences: readonly TreeDifference[]): string {
  return differences.map((difference) => `${difference.path}: ${difference.kind}: ${difference.detail}`).join('\n');
}

function compareEntries(
  path: string,
  before: EntryRecord,
  after: EntryRecord,
  expected: TreeSnapshot,
  actual: TreeSnapshot,
  options: CompareOptions,
): TreeDifference[] {
  const found: TreeDifference[] = [];
  const differ = (kind: DifferenceKind, detail: string): void => {
    found.push({ path, kind, detail });
  };
  if (before.kind !== after.kind) {
    differ('type', `${before.kind} became ${after.kind}`);
    return found;
  }
  if (before.kind !== 'symlink' && before.mode !== after.mode) differ('mode', `${octal(before.mode)} became ${octal(after.mode)}`);
  if (before.uid !== after.uid || before.gid !== after.gid) differ('owner', `${before.uid}:${before.gid} became ${after.uid}:${after.gid}`);
  if (before.mtimeNs !== after.mtimeNs) differ('mtime', `${nanoTime(before.mtimeNs)} became ${nanoTime(after.mtimeNs)}`);
  for (const name of new Set([...before.xattrs.keys(), ...after.xattrs.keys()])) {
    const was = before.xattrs.get(name);
    const is = after.xattrs.get(name);
    if (was !== undefined && is !== undefined && was.equals(is)) continue;
    const isAcl = name === ACL_ACCESS || name === ACL_DEFAULT;
    const show = (value: Buffer | undefined): string => (value === undefined ? 'absent' : isAcl ? describeAcl(value) : escapeBytes(value));
    differ(isAcl ? 'acl' : 'xattr', `${escapeBytes(Buffer.from(name, 'latin1'))}: ${show(was)} became ${show(is)}`);
  }
  if (before.kind === 'symlink' && !(before.linkTarget as Buffer).equals(after.linkTarget as Buffer)) {
    differ('symlink', `target "${escapeBytes(before.linkTarget as Buffer)}" became "${escapeBytes(after.linkTarget as Buffer)}"`);
  }
  if ((before.kind === 'char-device' || before.kind === 'block-device') && before.rdev !== after.rdev) {
    differ('rdev', `${deviceText(before.rdev)} became ${deviceText(after.rdev)}`);
  }
  if (before.kind === 'file') {
    if (before.size !== after.size) differ('size', `${before.size} bytes became ${after.size}`);
    else if (before.digest !== after.digest) differ('content', 'the content differs');
    const isSparse = (record: EntryRecord): boolean => record.blocks * 512 < record.size;
    if (isSparse(before) || isSparse(after)) {
      const tolerance = Math.max(
        options.blocksToleranceBytes ?? 256 * 1024,
        (options.blocksToleranceFraction ?? 0.1) * Math.max(before.blocks, after.blocks) * 512,
      );
      if (Math.abs(before.blocks - after.blocks) * 512 > tolerance) {
        differ('blocks', `${before.blocks * 512} bytes allocated became ${after.blocks * 512} (size ${before.size})`);
      }
    }
  }
  if (before.kind !== 'folder') {
    const group = (snapshot: TreeSnapshot, record: EntryRecord): string => (snapshot.inodes.get(record.ino) ?? []).map(displayPath).join(', ');
    const wasGroup = group(expected, before);
    const isGroup = group(actual, after);
    if (wasGroup !== isGroup || before.nlink !== after.nlink) {
      differ('hardlink', `${before.nlink} links [${wasGroup}] became ${after.nlink} links [${isGroup}]`);
    }
  }
  return found;
}

async function snapshotTree(root: string): Promise<TreeSnapshot> {
  const entries = new Map<string, EntryRecord>();
  const inodes = new Map<bigint, string[]>();
  const rootFd = openFolderAt(posixConstants().AT_FDCWD, root);
  try {
    entries.set('', describeRoot(rootFd));
    await walkFolder(rootFd, '', entries, inodes);
  } finally {
    closeSync(rootFd);
  }
  return { entries, inodes };
}

/** Depth first, holding one fd per level: a path of any total length is reached one name at a time. */
async function walkFolder(folderFd: number, key: string, entries: Map<string, EntryRecord>, inodes: Map<bigint, string[]>): Promise<void> {
  for (const name of readFolderAt(folderFd).sort(Buffer.compare)) {
    const childKey = `${key}/${name.toString('latin1')}`;
    const record = await describe(folderFd, name);
    entries.set(childKey, record);
    if (record.kind === 'folder') {
      const childFd = openFolderAt(folderFd, name);
      try {
        await walkFolder(childFd, childKey, entries, inodes);
      } finally {
        closeSync(childFd);
      }
    } else {
      const group = inodes.get(record.ino) ?? [];
      group.push(childKey);
      inodes.set(record.ino, group);
    }
  }
}

function describeRoot(rootFd: number): EntryRecord {
  return basicRecord(statFd(rootFd), readXattrs({ fd: rootFd }));
}

async function describe(folderFd: number, name: Buffer): Promise<EntryRecord> {
  const stats = statAt(folderFd, name);
  const record = basicRecord(stats, readXattrs({ dirfd: folderFd, name }));
  if (record.kind === 'symlink') return { ...record, linkTarget: readlinkAt(folderFd, name) };
  if (record.kind === 'file') return { ...record, digest: await contentDigest(folderFd, name, stats.size) };
  return record;
}

function basicRecord(stats: PosixStat, xattrList: readonly Xattr[]): EntryRecord {
  const xattrs = new Map<string, Buffer>();
  for (const xattr of xattrList) xattrs.set(xattr.name.toString('latin1'), xattr.value);
  return {
    kind: entryKind(stats.mode),
    mode: stats.mode & 0o7777,
    uid: stats.uid,
    gid: stats.gid,
    size: stats.size,
    blocks: stats.blocks,
    nlink: stats.nlink,
    ino: stats.ino,
    mtimeNs: stats.mtimeNs,
    rdev: stats.rdev,
    xattrs,
  };
}

/**
 * SHA-256 over the content cut in 4 KiB blocks, where every run of all-zero blocks counts as its
 * length only: a hole is skipped without reading (a 2 GiB sparse file costs its data, not 2 GiB), and
 * a hole and written zeros hash alike (allocation is compared apart, through st_blocks).
 */
async function contentDigest(folderFd: number, name: Buffer, size: number): Promise<string> {
  const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK, O_NOCTTY } = posixConstants();
  const fd = openAt(folderFd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
  try {
    const hasher = new ZeroRunHasher();
    const buffer = Buffer.alloc(1024 * 1024);
    let position = 0;
    for (const extent of dataExtents(fd)) {
      const end = Math.min(extent.offset + extent.length, size);
      if (extent.offset > position) hasher.addZeros(extent.offset - position);
      position = Math.max(position, extent.offset);
      while (position < end) {
        const { bytesRead } = await readAsync(fd, buffer, 0, Math.min(buffer.length, end - position), position);
        if (bytesRead === 0) break;
        hasher.addBytes(buffer.subarray(0, bytesRead));
        position += bytesRead;
      }
    }
    if (position < size) hasher.addZeros(size - position);
    return hasher.digest();
  } finally {
    closeSync(fd);
  }
}

const BLOCK = 4096;

class ZeroRunHasher {
  private readonly hash = createHash('sha256');
  private readonly block = Buffer.alloc(BLOCK);
  private filled = 0;
  private zeroBlocks = 0;

  addBytes(bytes: Buffer): void {
    for (let offset = 0; offset < bytes.length; ) {
      const length = Math.min(BLOCK - this.filled, bytes.length - offset);
      bytes.copy(this.block, this.filled, offset, offset + length);
      this.filled += length;
      offset += length;
      if (this.filled === BLOCK) this.emitBlock();
    }
  }

  addZeros(count: number): void {
    let remaining = count;
    if (this.filled > 0) {
      const length = Math.min(BLOCK - this.filled, remaining);
      this.block.fill(0, this.filled, this.filled + length);
      this.filled += length;
      remaining -= length;
      if (this.filled === BLOCK) this.emitBlock();
    }
    this.zeroBlocks += Math.floor(remaining / BLOCK);
    const rest = remaining % BLOCK;
    if (rest > 0) {
      this.block.fill(0, 0, rest);
      this.filled = rest;
    }
  }

  digest(): string {
    if (this.filled > 0) {
      this.flushZeros();
      this.hash.update(`tail ${this.filled}:`);
      this.hash.update(this.block.subarray(0, this.filled));
    }
    this.flushZeros();
    return this.hash.digest('hex');
  }

  private emitBlock(): void {
    this.filled = 0;
    if (this.block.every((byte) => byte === 0)) {
      this.zeroBlocks += 1;
      return;
    }
    this.flushZeros();
    this.hash.update('data:');
    this.hash.update(this.block);
  }

  private flushZeros(): void {
    if (this.zeroBlocks === 0) return;
    this.hash.update(`zeros ${this.zeroBlocks}:`);
    this.zeroBlocks = 0;
  }
}

function displayPath(key: string): string {
  if (key === '') return '.';
  return key
    .slice(1)
    .split('/')
    .map((component) => escapeBytes(Buffer.from(component, 'latin1')))
    .join('/');
}

const octal = (mode: number): string => `0${mode.toString(8).padStart(4, '0')}`;

function nanoTime(timeNs: bigint): string {
  const seconds = timeNs / 1_000_000_000n;
  const nanoseconds = (timeNs % 1_000_000_000n + 1_000_000_000n) % 1_000_000_000n;
  return `${seconds}.${nanoseconds.toString().padStart(9, '0')}`;
}

function deviceText(rdev: bigint): string {
  const { major, minor } = splitDeviceNumber(rdev);
  return `${major}:${minor}`;
}

/** The kernel's ACL xattr (version 2, then tag/perm/id records) as getfacl-like text. */
export function describeAcl(value: Buffer): string {
  if (value.length < 4 || (value.length - 4) % 8 !== 0) return `undecodable ACL ${value.toString('hex')}`;
  const tags: Record<number, string> = { 1: 'user:', 2: 'user:', 4: 'group:', 8: 'group:', 16: 'mask:', 32: 'other:' };
  const entries: string[] = [];
  for (let offset = 4; offset < value.length; offset += 8) {
    const tag = value.readUInt16LE(offset);
    const permissions = value.readUInt16LE(offset + 2);
    const id = value.readUInt32LE(offset + 4);
    const who = tag === 2 || tag === 8 ? `${id}` : '';
    const bits = `${permissions & 4 ? 'r' : '-'}${permissions & 2 ? 'w' : '-'}${permissions & 1 ? 'x' : '-'}`;
    entries.push(`${tags[tag] ?? `tag${tag}:`}${who}:${bits}`);
  }
  return entries.join(',');
}
