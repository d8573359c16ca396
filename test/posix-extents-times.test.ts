// Proves data extents (SEEK_DATA/SEEK_HOLE) and nanosecond times: a sparse file reports only its
// data; times are exact to the nanosecond, before 1970 too, and a symlink gets its own times.
import assert from 'node:assert/strict';
import { closeSync, ftruncateSync, writeSync } from 'node:fs';
import { stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { openAt, posixConstants, statAt, statFd } from '../src/client/posix/at';
import { dataExtents, extentBytes, hasHoleBefore } from '../src/client/posix/data-extents';
import { setTimesAt, setTimesFd, splitNanoseconds, toNanoseconds } from '../src/client/posix/times';
import { posixWorkspace } from './support/posix-workspace';

const space = posixWorkspace('posix-extents');

function newFile(name: string): number {
  const { O_RDWR, O_CREAT, O_EXCL } = posixConstants();
  return openAt(space.fd, name, O_RDWR | O_CREAT | O_EXCL, 0o600);
}

test('a sparse file reports its data extents only; empty, all-hole and dense files too', () => {
  const sparse = newFile('sparse');
  const gib = 1024 * 1024 * 1024;
  writeSync(sparse, Buffer.alloc(3000, 1), 0, 3000, 1024 * 1024);
  writeSync(sparse, Buffer.alloc(5000, 2), 0, 5000, gib + 123);
  ftruncateSync(sparse, 2 * gib);
  const extents = dataExtents(sparse);
  assert.equal(extents.length, 2);
  assert.ok(extents[0].offset <= 1024 * 1024 && extents[0].offset + extents[0].length >= 1024 * 1024 + 3000);
  assert.ok(extents[1].offset <= gib + 123 && extents[1].offset + extents[1].length >= gib + 5123);
  assert.ok(extentBytes(extents) < 64 * 1024, 'a few KiB of data, not 2 GiB');
  assert.ok(statFd(sparse).blocks * 512 < 64 * 1024);
  closeSync(sparse);

  const empty = newFile('empty');
  assert.deepEqual(dataExtents(empty), []);
  ftruncateSync(empty, 10 * 1024 * 1024);
  assert.deepEqual(dataExtents(empty), [], 'all hole');
  closeSync(empty);

  const dense = newFile('dense');
  writeSync(dense, Buffer.alloc(100_000, 7));
  assert.deepEqual(dataExtents(dense), [{ offset: 0, length: 100_000 }]);
  closeSync(dense);
});

test('one SEEK_HOLE tells a hole before the size; a file emptied since its fstat counts as having none', () => {
  const holed = newFile('holed');
  writeSync(holed, Buffer.alloc(4096, 1), 0, 4096, 0);
  ftruncateSync(holed, 48 * 1024);
  assert.equal(hasHoleBefore(holed, 48 * 1024), true);
  closeSync(holed);
  const dense = newFile('dense-small');
  writeSync(dense, Buffer.alloc(5000, 7));
  assert.equal(hasHoleBefore(dense, 5000), false);
  // Regression: truncated to 0 after the fstat that gave 5000 (copytruncate), lseek answers ENXIO,
  // which left the file out of the backup as unreadable.
  ftruncateSync(dense, 0);
  assert.equal(hasHoleBefore(dense, 5000), false);
  closeSync(dense);
});

test('times are set to the nanosecond by name and by fd; null/omitted leaves one unchanged', async () => {
  await writeFile(join(space.path, 'timed'), 'x');
  setTimesAt(space.fd, 'timed', { atimeNs: 1_500_000_000_000_000_001n, mtimeNs: 1_600_000_000_999_999_999n });
  let stats = statAt(space.fd, 'timed');
  assert.equal(stats.atimeNs, 1_500_000_000_000_000_001n);
  assert.equal(stats.mtimeNs, 1_600_000_000_999_999_999n);
  setTimesAt(space.fd, 'timed', { mtimeNs: 5n });
  stats = statAt(space.fd, 'timed');
  assert.equal(stats.atimeNs, 1_500_000_000_000_000_001n, 'atime omitted: unchanged');
  assert.equal(stats.mtimeNs, 5n);
  // Before 1970: a negative time with a nanosecond part.
  const fd = openAt(space.fd, 'timed', posixConstants().O_RDONLY);
  setTimesFd(fd, { mtimeNs: -1_234_567_891n });
  closeSync(fd);
  assert.equal(statAt(space.fd, 'timed').mtimeNs, -1_234_567_891n);
});

test('a symlink gets its own times, its target keeps its own', async () => {
  await writeFile(join(space.path, 'link-target'), 't');
  await symlink('link-target', join(space.path, 'timed-link'));
  const before = await stat(join(space.path, 'link-target'), { bigint: true });
  setTimesAt(space.fd, 'timed-link', { mtimeNs: 1_000_000_000_000_000_777n });
  assert.equal(statAt(space.fd, 'timed-link').mtimeNs, 1_000_000_000_000_000_777n);
  assert.equal((await stat(join(space.path, 'link-target'), { bigint: true })).mtimeNs, before.mtimeNs);
});

test('seconds + nanoseconds convert both ways, negative times floored', () => {
  assert.equal(toNanoseconds(1_600_000_000, 123_456_789), 1_600_000_000_123_456_789n);
  assert.equal(toNanoseconds(-2, 999_999_999), -1_000_000_001n);
  assert.deepEqual(splitNanoseconds(-1_000_000_001n), { seconds: -2n, nanoseconds: 999_999_999 });
  assert.deepEqual(splitNanoseconds(1_600_000_000_123_456_789n), { seconds: 1_600_000_000n, nanoseconds: 123_456_789 });
  assert.throws(() => toNanoseconds(1, 1e9), RangeError);
});
