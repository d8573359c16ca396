// A folder listed within a clock tick of its last change could take an entry in that same tick and keep
// the mtime it was listed with: such a folder is looked at again at the walk's end whatever its times
// say. How near counts as racy depends on what the file system keeps: nanoseconds, or whole seconds.
// And a name whose inode number changed between two listings was taken by another entry, unless the
// file system makes its numbers up (FAT): there the folder is named as changed, not the name as taken.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, realpathSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListedFolders } from '../src/client/listed-folders';
import { posixConstants, statAt, type PosixStat } from '../src/client/posix/at';

function folder(t: { after(fn: () => void): void }): string {
  const path = realpathSync(mkdtempSync(join(tmpdir(), 'cpsbackup-racy-')));
  t.after(() => rmdirSync(path));
  return path;
}

/** Whether a folder listed (as it is now) at listedAtMs would be listed again at the walk's end. */
function isLookedAgain(path: string, listedAtMs: (stats: PosixStat) => number): boolean {
  const stats = statAt(posixConstants().AT_FDCWD, path);
  const folders = new ListedFolders();
  folders.add(Buffer.from(path), stats, stats, listedAtMs(stats), false, NO_NAMES);
  return folders.scan(false).relist.length === 1;
}

/** An empty folder's listing. */
const NO_NAMES = { names: [], inodes: new BigUint64Array(0), joinedNames: '' };

const mtimeMs = (stats: PosixStat): number => Number(BigInt(stats.mtimeNs) / 1_000_000n);

test('a folder listed within 50 ms of a change is looked at again though nothing changed since; one listed later is not', (t) => {
  const path = folder(t);
  // A nanosecond part other than zero: a file system that keeps nanoseconds.
  execFileSync('touch', ['-m', '-d', '@1700000000.123456789', path]);
  assert.equal(isLookedAgain(path, (stats) => mtimeMs(stats) + 10), true);
  assert.equal(isLookedAgain(path, (stats) => mtimeMs(stats) + 60), false);
});

test('on a file system of whole seconds (FAT keeps two), a folder listed within 3 s of a change is looked at again', (t) => {
  const path = folder(t);
  execFileSync('touch', ['-m', '-d', '@1700000000', path]);
  assert.equal(isLookedAgain(path, (stats) => mtimeMs(stats) + 2_500), true);
  assert.equal(isLookedAgain(path, (stats) => mtimeMs(stats) + 3_100), false);
});

test('a listing again long after the change clears the doubt', (t) => {
  const path = folder(t);
  execFileSync('touch', ['-m', '-d', '@1700000000.5', path]);
  const stats = statAt(posixConstants().AT_FDCWD, path);
  const folders = new ListedFolders();
  folders.add(Buffer.from(path), stats, stats, mtimeMs(stats) + 1, false, NO_NAMES);
  assert.deepEqual(folders.scan(false).relist, [0]);
  assert.deepEqual(folders.relisted(0, stats, mtimeMs(stats) + 1_000, NO_NAMES, true), []);
  assert.deepEqual(folders.scan(false).relist, []);
});

test('a name listed again with another inode number is named as taken; where numbers are made up, the folder as changed', (t) => {
  const path = folder(t);
  execFileSync('touch', ['-m', '-d', '@1700000000.5', path]);
  const stats = statAt(posixConstants().AT_FDCWD, path);
  const listing = (inode: bigint): { names: Buffer[]; inodes: BigUint64Array; joinedNames: string } => (
    { names: [Buffer.from('report')], inodes: BigUint64Array.of(inode), joinedNames: 'report' });
  for (const hasStableNumbers of [true, false]) {
    const folders = new ListedFolders();
    folders.add(Buffer.from(path), stats, stats, mtimeMs(stats) + 10_000, false, listing(7n));
    assert.deepEqual(folders.relisted(0, stats, mtimeMs(stats) + 10_000, listing(8n), hasStableNumbers), []);
    const [warning] = folders.scan(true).warnings;
    assert.match(warning, hasStableNumbers ? /: an entry took a name the backup had read in this folder \("report"\)/ : /: folder changed after the backup listed it/);
  }
});
