// Entries whose metadata would not fit in one message, through the real server and CLI: a sparse file
// with more extents than an entry may list is backed up (exit 0) and restored byte for byte, some of its
// smallest holes as written zeros; a file and a folder with more xattrs than an entry can carry are
// listed as not in the backup (exit 3), and the rest of the tree is kept.
// Regression: either went in one entry over the 4 MiB message limit, and the whole backup failed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, ftruncateSync, openSync, statSync, writeSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Sandbox } from './support/sandbox';
import { mountTmpfs, tmpfsRefusal, unmountTmpfs } from './support/tmpfs';
import { dataExtents, type DataExtent } from '../src/client/posix/data-extents';
import { setXattr } from '../src/client/posix/xattrs';
import { MAX_ENTRY_METADATA_BYTES, MAX_EXTENTS } from '../src/common/entry-limits';
import { maxMessageBytes } from '../src/common/tls/credentials';

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

const tmpfsRefused = tmpfsRefusal();

test('a file and a folder with more xattrs than an entry can carry are listed as not in the backup; the rest is kept',
  { skip: tmpfsRefused ? `${tmpfsRefused} (/tmp's ext4 keeps only about 4 KiB of xattrs a file; see entry-limits.test.ts)` : false }, async (t) => {
    const sandbox = await Sandbox.create();
    const data = join(sandbox.root, 'data');
    await mkdir(data);
    // ext4 keeps about one block of xattrs a file; a tmpfs (Linux 6.6 and later) keeps what its size allows.
    mountTmpfs(data, '64m');
    t.after(async () => {
      unmountTmpfs(data);
      await sandbox.destroy();
    });
    const heavyFile = join(data, 'heavy.bin');
    const heavyFolder = join(data, 'heavy-folder');
    await writeFile(heavyFile, 'its content is small, its xattrs are not\n');
    await mkdir(heavyFolder);
    await writeFile(join(data, 'fine.txt'), 'fine\n');
    // 80 xattrs of 64 KiB: 5 MiB, more than a whole message.
    try {
      for (const path of [heavyFile, heavyFolder]) {
        for (let index = 0; index < 80; index++) setXattr({ path }, `user.heavy-${index}`, Buffer.alloc(64 * KIB, index));
      }
    } catch (error) {
      t.skip(`this kernel's tmpfs does not keep 5 MiB of user xattrs on one file (${(error as Error).message})`);
      return;
    }
    assert.ok(80 * 64 * KIB > maxMessageBytes);
    await sandbox.startServer();
    const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);

    const backup = await sandbox.runClient(['-c', config, '-e']);
    assert.equal(backup.code, 3, backup.stdout + backup.stderr.slice(0, 2000));
    assert.match(backup.stderr, /error: 2 files could not be read and are not in this backup:\n/);
    for (const path of [heavyFile, heavyFolder]) {
      const reason = new RegExp(`^  ${path}: cannot be backed up: its extended attributes take (\\d+) bytes, more than one backup entry can carry \\((\\d+)\\)$`, 'm');
      const match = reason.exec(backup.stderr);
      assert.ok(match, backup.stderr.slice(0, 2000));
      assert.ok(Number(match[1]) > 80 * 64 * KIB && Number(match[2]) < MAX_ENTRY_METADATA_BYTES);
    }
    assert.match(backup.stdout, /^Backup 0000001 kept, incomplete: /);

    const target = join(sandbox.root, 'restored');
    const restore = await sandbox.runClient(['-c', config, '-i', '1', '--to', target]);
    assert.equal(restore.code, 3, restore.stdout + restore.stderr.slice(0, 2000));
    assert.match(restore.stderr, /^warning: backup 0000001 is incomplete: 2 files were not saved in it /m);
    assert.equal(await readFile(join(target, data, 'fine.txt'), 'utf8'), 'fine\n');
  });
