// Entries whose metadata would not fit in one message, through the real server and CLI: a sparse file
// with more extents than an entry may list is backed up (exit 0) and restored byte for byte, some of its
// smallest holes as written zeros.
// Regression: its extents went in one entry over the 4 MiB message limit, and the whole backup failed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, ftruncateSync, openSync, statSync, writeSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Sandbox } from './support/sandbox';
import { dataExtents, type DataExtent } from '../src/client/posix/data-extents';
import { MAX_EXTENTS } from '../src/common/entry-limits';

const KIB = 1024;
/** One byte every 8 KiB: each lands in a block of its own, with a one-block hole before the next. */
const DATA_BLOCKS = 70_000;
const SPACING = 8 * KIB;

function extentsOf(file: string): DataExtent[] {
  const fd = openSync(file, 'r');
  try {
    return dataExtents(fd);
  } finally {
    closeSync(fd);
  }
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

test('a sparse file with more extents than an entry may list is backed up and restored byte for byte', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  const data = join(sandbox.root, 'data');
  await mkdir(data);
  const sparse = join(data, 'punched.ibd');
  const fd = openSync(sparse, 'wx');
  try {
    // A different byte at a different place in each block, so a misplaced block cannot go unnoticed.
    for (let block = 0; block < DATA_BLOCKS; block++) writeSync(fd, Buffer.of(1 + (block % 251)), 0, 1, block * SPACING + (block % 4096));
    ftruncateSync(fd, DATA_BLOCKS * SPACING + 1024 * KIB);
  } finally {
    closeSync(fd);
  }
  const { size, blocks } = statSync(sparse);
  if (blocks * 512 >= size) {
    t.skip(`the file system of ${data} did not keep the holes (${blocks * 512} bytes allocated of ${size})`);
    return;
  }
  const originalExtents = extentsOf(sparse).length;
  assert.ok(originalExtents > MAX_EXTENTS, `${originalExtents} extents, not more than ${MAX_EXTENTS}`);
  await writeFile(join(data, 'beside.txt'), 'a plain file beside it\n');
  await sandbox.startServer();
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);

  const backup = await sandbox.runClient(['-c', config, '-e'], { timeoutMs: 600_000 });
  assert.equal(backup.code, 0, backup.stdout + backup.stderr.slice(0, 2000));
  assert.match(backup.stdout, /^Backup 0000001 done: /);

  const target = join(sandbox.root, 'restored');
  const restore = await sandbox.runClient(['-c', config, '-i', '1', '--to', target], { timeoutMs: 600_000 });
  assert.equal(restore.code, 0, restore.stdout + restore.stderr.slice(0, 2000));
  const restored = join(target, sparse);
  assert.equal(statSync(restored).size, size);
  assert.equal(await sha256Of(restored), await sha256Of(sparse), 'the restored content is the original, byte for byte');
  assert.equal(await readFile(join(target, data, 'beside.txt'), 'utf8'), 'a plain file beside it\n');
  // The entry held at most MAX_EXTENTS extents: the holes filled came back as data, the others as holes.
  const restoredExtents = extentsOf(restored).length;
  assert.ok(restoredExtents <= MAX_EXTENTS, `${restoredExtents} extents restored, more than the ${MAX_EXTENTS} an entry may list`);
  assert.ok(statSync(restored).blocks * 512 < size, 'the restored file is still sparse');
});
