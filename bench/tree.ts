// Walks folder trees for the benchmark: content manifests to verify restores, sizes, du, warm-up reads.
// Files over 1 MiB are streamed through hashes, never read whole, because the corpus can be gigabytes.
import { createHash } from 'node:crypto';
import { createReadStream, type Stats } from 'node:fs';
import { lstat, readFile, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';

const wholeReadMaxBytes = 1 << 20;

export interface TreeEntry {
  readonly relativePath: string;
  readonly absolutePath: string;
  readonly stats: Stats;
}

/** Depth-first, names sorted by code unit so the order never depends on the locale. */
export async function* walkTree(root: string, relative = ''): AsyncGenerator<TreeEntry> {
  const names = (await readdir(join(root, relative))).sort((left, right) => (left < right ? -1 : left > right ? 1 : 0));
  for (const name of names) {
    const relativePath = relative === '' ? name : `${relative}/${name}`;
    const absolutePath = join(root, relativePath);
    const stats = await lstat(absolutePath);
    yield { relativePath, absolutePath, stats };
    if (stats.isDirectory()) yield* walkTree(root, relativePath);
  }
}

/**
 * Small files are read whole: a 1 MiB stream buffer per file of 100,000 small files was 100 GiB of
 * allocations, and V8's collector, run every 64 MiB of them, took the E/F manifest 15 minutes.
 */
export async function hashFile(path: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  if (size <= wholeReadMaxBytes) return hash.update(await readFile(path)).digest('hex');
  await pipeline(createReadStream(path, { highWaterMark: wholeReadMaxBytes }), hash);
  return hash.digest('hex');
}

/** relative path → "dir", "link:<target>" or "file:<size>:<sha256>"; what a restore must reproduce. */
export async function treeManifest(root: string): Promise<Map<string, string>> {
  const manifest = new Map<string, string>();
  for await (const entry of walkTree(root)) {
    if (entry.stats.isDirectory()) manifest.set(entry.relativePath, 'dir');
    else if (entry.stats.isSymbolicLink()) manifest.set(entry.relativePath, `link:${await readlink(entry.absolutePath)}`);
    else if (entry.stats.isFile()) manifest.set(entry.relativePath, `file:${entry.stats.size}:${await hashFile(entry.absolutePath, entry.stats.size)}`);
    else manifest.set(entry.relativePath, 'special');
  }
  return manifest;
}

/** Human-readable differences, at most `limit` of them; empty means the trees match. */
export function compareManifests(expected: Map<string, string>, actual: Map<string, string>, limit = 10): string[] {
  const differences: string[] = [];
  for (const [path, value] of expected) {
    if (differences.length >= limit) return differences;
    const other = actual.get(path);
    if (other === undefined) differences.push(`missing ${path}`);
    else if (other !== value) differences.push(`differs ${path}: expected ${value}, got ${other}`);
  }
  for (const path of actual.keys()) {
    if (differences.length >= limit) return differences;
    if (!expected.has(path)) differences.push(`unexpected ${path}`);
  }
  return differences;
}

export interface TreeSize {
  readonly files: number;
  readonly bytes: number;
  /** Allocated blocks, as `du` counts them. */
  readonly diskBytes: number;
}

export async function treeSize(root: string): Promise<TreeSize> {
  const rootStats = await lstat(root);
  let files = 0;
  let bytes = 0;
  let diskBytes = rootStats.blocks * 512;
  for await (const entry of walkTree(root)) {
    diskBytes += entry.stats.blocks * 512;
    if (entry.stats.isFile()) {
      files++;
      bytes += entry.stats.size;
    }
  }
  return { files, bytes, diskBytes };
}

/** Reads every file once so all tools start from the same warm page cache. */
export async function warmUp(root: string): Promise<number> {
  let bytes = 0;
  const sink = (): Writable =>
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        bytes += chunk.length;
        callback();
      },
    });
  for await (const entry of walkTree(root)) {
    if (entry.stats.isFile()) await pipeline(createReadStream(entry.absolutePath, { highWaterMark: 1 << 20 }), sink());
  }
  return bytes;
}
