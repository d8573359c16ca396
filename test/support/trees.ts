// Deterministic fixture trees for the end-to-end tests: seeded incompressible content written as a
// stream, a sample tree with every entry kind the product must restore, and a tree snapshot to compare.
import { createCipheriv, createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, lstat, mkdir, opendir, readdir, readlink, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const MEBIBYTE = 1024 * 1024;

/** Seeded pseudo-random bytes (AES-256-CTR over zeros): incompressible, reproducible, produced a block at a time. */
export function deterministicBytes(seed: string, size: number, blockSize = MEBIBYTE): Readable {
  const key = createHash('sha256').update(`key:${seed}`).digest();
  const iv = createHash('sha256').update(`iv:${seed}`).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-256-ctr', key, iv);
  const zeros = Buffer.alloc(blockSize);
  let remaining = size;
  return new Readable({
    read() {
      if (remaining === 0) {
        this.push(null);
        return;
      }
      const length = Math.min(remaining, blockSize);
      remaining -= length;
      this.push(cipher.update(zeros.subarray(0, length)));
    },
  });
}

export async function writeDeterministicFile(path: string, seed: string, size: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await pipeline(deterministicBytes(seed, size), createWriteStream(path));
}

/** Bytes of the files directly in a folder (0 for a missing folder; a file gone meanwhile counts 0). */
export async function folderBytes(folder: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(folder).catch(() => [] as string[])) total += await stat(join(folder, name)).then((found) => found.size, () => 0);
  return total;
}

export async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/** A past time with a fractional second, so a restore that keeps only whole seconds is still seen. */
export function pastTime(index: number): Date {
  return new Date(Date.UTC(2021, 2, 4, 5, 6, 7) + index * 3_600_000 + 500);
}

export interface SampleTree {
  readonly root: string;
  /** Paths relative to root, for assertions about what -s lists. */
  readonly files: readonly string[];
  readonly folders: readonly string[];
  readonly links: readonly string[];
}

/**
 * Builds the tree the backup/restore test needs: nested and empty folders, 0 B / 1 B / multi-MiB files,
 * names with spaces and UTF-8, a relative and a dangling symlink, modes 0600/0755/0700, mtimes in the past.
 */
export async function createSampleTree(root: string): Promise<SampleTree> {
  const folders = ['', 'docs', 'docs/deep', 'docs/deep/a', 'docs/deep/a/b', 'empty folder', 'data', 'private', 'ünïcödé 日本'];
  const textFiles: [string, string | Buffer, number][] = [
    ['docs/readme.txt', 'hello\n', 0o644],
    ['docs/empty.txt', '', 0o644],
    ['docs/one-byte.bin', Buffer.from([0x2a]), 0o644],
    ['docs/deep/a/b/note with spaces.txt', 'a note\nwith two lines\n', 0o644],
    ['ünïcödé 日本/файл – ü.txt', 'unicode content ✓\n', 0o644],
    ['private/secret.key', 'not a real key\n', 0o600],
    ['run.sh', '#!/bin/sh\necho hi\n', 0o755],
  ];
  const largeFiles: [string, number][] = [['data/three-mib.bin', 3 * MEBIBYTE + 123], ['data/small.bin', 70_001]];
  const links: [string, string][] = [['link to readme', 'docs/readme.txt'], ['docs/dangling', '../does/not/exist']];

  for (const folder of folders) await mkdir(join(root, folder), { recursive: true });
  for (const [path, content, mode] of textFiles) {
    await writeFile(join(root, path), content);
    await chmod(join(root, path), mode);
  }
  for (const [path, size] of largeFiles) await writeDeterministicFile(join(root, path), path, size);
  for (const [path, target] of links) await symlink(target, join(root, path));
  await chmod(join(root, 'private'), 0o700);

  const files = [...textFiles.map(([path]) => path), ...largeFiles.map(([path]) => path)];
  let index = 0;
  for (const path of files) await utimes(join(root, path), pastTime(index), pastTime(index++));
  // Deepest first, so a folder's time is not changed again by touching its children.
  for (const folder of [...folders].sort((a, b) => b.length - a.length)) {
    await utimes(join(root, folder), pastTime(index), pastTime(index++));
  }
  return { root, files, folders: folders.filter((folder) => folder !== ''), links: links.map(([path]) => path) };
}

export interface TreeEntry {
  readonly type: 'file' | 'dir' | 'link' | 'fifo' | 'other';
  readonly mode: number;
  readonly size: number;
  readonly mtimeSec: number;
  readonly sha256?: string;
  readonly linkTarget?: string;
}

/** Every entry under root keyed by relative path ('' is root); file contents hashed as streams. */
export async function snapshotTree(root: string): Promise<Map<string, TreeEntry>> {
  const entries = new Map<string, TreeEntry>();
  const visit = async (relative: string): Promise<void> => {
    const path = relative === '' ? root : join(root, relative);
    const stats = await lstat(path);
    const base = { mode: stats.mode & 0o7777, mtimeSec: Math.floor(stats.mtimeMs / 1000) };
    if (stats.isDirectory()) {
      entries.set(relative, { ...base, type: 'dir', size: 0 });
      const names: string[] = [];
      for await (const entry of await opendir(path)) names.push(entry.name);
      for (const name of names.sort()) await visit(relative === '' ? name : `${relative}/${name}`);
    } else if (stats.isSymbolicLink()) {
      entries.set(relative, { ...base, mode: 0, type: 'link', size: 0, linkTarget: await readlink(path) });
    } else if (stats.isFile()) {
      entries.set(relative, { ...base, type: 'file', size: stats.size, sha256: await fileSha256(path) });
    } else {
      entries.set(relative, { ...base, type: stats.isFIFO() ? 'fifo' : 'other', size: 0 });
    }
  };
  await visit('');
  return entries;
}

export interface CompareOptions {
  /** Folder mtimes change whenever their content does; compare them only where nothing wrote since. */
  readonly compareFolderTimes?: boolean;
}

/** Human-readable differences between two snapshots; empty when the trees are identical. */
export function treeDifferences(expected: Map<string, TreeEntry>, actual: Map<string, TreeEntry>, options: CompareOptions = {}): string[] {
  const differences: string[] = [];
  for (const [path, want] of expected) {
    const got = actual.get(path);
    const name = path === '' ? '(root)' : path;
    if (got === undefined) {
      differences.push(`${name}: missing`);
      continue;
    }
    for (const key of ['type', 'mode', 'size', 'sha256', 'linkTarget'] as const) {
      if (want[key] !== got[key]) differences.push(`${name}: ${key} ${String(want[key])} != ${String(got[key])}`);
    }
    const comparesTime = want.type === 'file' || (want.type === 'dir' && options.compareFolderTimes === true);
    if (comparesTime && want.mtimeSec !== got.mtimeSec) differences.push(`${name}: mtime ${want.mtimeSec} != ${got.mtimeSec}`);
  }
  for (const path of actual.keys()) if (!expected.has(path)) differences.push(`${path}: unexpected`);
  return differences;
}

/** Snapshots both trees and asserts-friendly: returns the differences. */
export async function compareTrees(expectedRoot: string, actualRoot: string, options: CompareOptions = {}): Promise<string[]> {
  return treeDifferences(await snapshotTree(expectedRoot), await snapshotTree(actualRoot), options);
}
