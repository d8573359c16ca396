// Compares two folder trees: same entries, same types, same bytes, same modes, same symlink targets.
// Streams file contents through SHA-256, so large trees are compared in bounded memory.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';

async function fileHash(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const piece of createReadStream(path)) hash.update(piece as Buffer);
  return hash.digest('hex');
}

/** Returns the differences, one line each; empty when the trees are identical. */
export async function compareTrees(expected: string, actual: string, relative = ''): Promise<string[]> {
  const differences: string[] = [];
  const expectedPath = join(expected, relative);
  const actualPath = join(actual, relative);
  const [left, right] = await Promise.all([lstat(expectedPath), lstat(actualPath).catch(() => undefined)]);
  if (right === undefined) return [`missing: ${relative || '.'}`];
  const kind = (stats: typeof left): string => stats.isDirectory() ? 'dir' : stats.isSymbolicLink() ? 'link' : stats.isFile() ? 'file' : 'other';
  if (kind(left) !== kind(right)) return [`type differs: ${relative}`];
  if (!left.isSymbolicLink() && (left.mode & 0o7777) !== (right.mode & 0o7777)) differences.push(`mode differs: ${relative}`);
  if (left.isSymbolicLink()) {
    if (await readlink(expectedPath) !== await readlink(actualPath)) differences.push(`link target differs: ${relative}`);
  } else if (left.isFile()) {
    if (left.size !== right.size || await fileHash(expectedPath) !== await fileHash(actualPath)) differences.push(`content differs: ${relative}`);
  } else if (left.isDirectory()) {
    const [leftNames, rightNames] = await Promise.all([readdir(expectedPath), readdir(actualPath)]);
    for (const extra of rightNames.filter((name) => !leftNames.includes(name))) differences.push(`unexpected: ${join(relative, extra)}`);
    for (const name of leftNames.sort()) differences.push(...await compareTrees(expected, actual, join(relative, name)));
  }
  return differences;
}
