// Regression: a sparse file was read for its data extents only when it had fewer blocks than its size
// needs. One with blocks preallocated past its end (fallocate --keep-size) covers its size all the same:
// it was read whole, holes as zeros, and came back dense with exit 0; then, for a file of 64 KiB or less
// (asked only when its blocks fell short), still. Made here for real on the test's file system: holes
// by writes at offsets and a truncate, then fallocate --keep-size.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, ftruncateSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox } from './support/sandbox';
import { dataExtents, type DataExtent } from '../src/client/posix/data-extents';

const KIB = 1024;
const MIB = 1024 * KIB;

interface HiddenHoles {
  readonly size: number;
  /** Where the data is; the rest of the size is holes. */
  readonly dataAt: readonly DataExtent[];
  /** What the backup's summary says it read. */
  readonly readShown: string;
}

const LARGE: HiddenHoles = { size: 4 * MIB, dataAt: [{ offset: 0, length: 64 * KIB }, { offset: 3 * MIB, length: 64 * KIB }], readShown: '128.0 KiB' };
/** Below the size past which every file's extents are walked: found by one lseek(SEEK_HOLE). */
const SMALL: HiddenHoles = { size: 48 * KIB, dataAt: [{ offset: 0, length: 4 * KIB }, { offset: 32 * KIB, length: 4 * KIB }], readShown: '8.0 KiB' };

function extentsOf(path: string): DataExtent[] {
  const fd = openSync(path, 'r');
  try {
    return dataExtents(fd);
  } finally {
    closeSync(fd);
  }
}

/** The sparse file with 8 MiB preallocated past its end; false when this file system cannot preallocate so. */
function makeHiddenHoles(path: string, { size, dataAt }: HiddenHoles): boolean {
  const fd = openSync(path, 'wx');
  try {
    for (const { offset, length } of dataAt) writeSync(fd, Buffer.alloc(length, `data at ${offset};`), 0, length, offset);
    ftruncateSync(fd, size);
  } finally {
    closeSync(fd);
  }
  try {
    execFileSync('fallocate', ['--keep-size', '--offset', String(size), '--length', String(8 * MIB), path], { stdio: 'ignore' });
  } catch {
    return false;
  }
  return true;
}

for (const [name, holes] of [['over 64 KiB', LARGE], ['of 64 KiB or less', SMALL]] as const) {
  test(`a sparse file ${name} whose preallocated blocks cover its size is read as its data and restored with its holes`, async (t) => {
    const sandbox = await Sandbox.create();
    t.after(() => sandbox.destroy());
    const data = join(sandbox.root, 'data');
    await mkdir(data);
    const file = join(data, 'hidden-holes.bin');
    if (!makeHiddenHoles(file, holes)) {
      t.skip('fallocate --keep-size is not supported here');
      return;
    }
    const stat = statSync(file);
    assert.equal(stat.size, holes.size);
    assert.ok(stat.blocks * 512 >= stat.size, `the blocks (${stat.blocks}) must cover the size for this test to mean anything`);
    assert.deepEqual(extentsOf(file), holes.dataAt, 'the holes are there');

    await sandbox.startServer();
    const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
    const backup = await sandbox.runClient(['-c', config, '-e']);
    assert.equal(backup.code, 0, backup.stdout + backup.stderr);
    assert.match(backup.stdout, new RegExp(` of ${holes.readShown.replace('.', '\\.')} read `), 'only the data is read');

    const target = join(sandbox.root, 'restored');
    const restore = await sandbox.runClient(['-c', config, '-i', '1', '--to', target]);
    assert.equal(restore.code, 0, restore.stdout + restore.stderr);
    const restored = join(target, file);
    assert.ok(readFileSync(restored).equals(readFileSync(file)), 'the content is the same');
    assert.deepEqual(extentsOf(restored), holes.dataAt, 'the holes came back as holes');
  });
}
