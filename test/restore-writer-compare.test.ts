// Regression: an in-place restore wrote a full copy of every file already there into a temporary file
// beside it before comparing the two. An identical file needed no writing, yet on a nearly full disk its
// copy failed the restore (ENOSPC), every folder holding one got a new mtime and ctime, and a killed
// restore left the copies behind. Now the content is compared with the file there as it arrives; the
// copy starts at the first difference, and only when the policy would replace the file. Entries go
// straight to the writer, as the server sends them; sparse files with holes inside and at the end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { closeSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { chmod, lstat, mkdtemp, readFile, readdir, readlink, realpath, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EntryMeta, EntryType } from '../src/proto/cpsbackup';
import { RestoreTree } from '../src/client/restore-tree/restore-tree';
import { RestoreWriter } from '../src/client/restore-writer';
import type { RestoreMessageItem } from '../src/client/restore-messages';
import type { OverwritePolicy } from '../src/client/overwrite-policy';
import { dataExtents } from '../src/client/posix/data-extents';
import { removeTree } from './support/remove-tree';

const BACKUP_MTIME_SEC = 1_700_000_000;
const KIB = 1024;
const isRoot = process.geteuid?.() === 0;

/** Data at 0 and at 64 KiB, 4 KiB each; a hole between them and one from 68 KiB to the end (128 KiB). */
const SPARSE = { size: 128 * KIB, extents: [0, 4 * KIB, 64 * KIB, 4 * KIB] };
const DENSE_TEXT = 'a dense file, identical\n';

function sparseData(): Buffer {
  return Buffer.concat([Buffer.alloc(4 * KIB, 'first;'), Buffer.alloc(4 * KIB, 'second;')]);
}

/** The sparse file as it is on disk: its data at its extents, zeros (holes) elsewhere. */
function sparseBytes(): Buffer {
  const bytes = Buffer.alloc(SPARSE.size);
  sparseData().copy(bytes, 0, 0, 4 * KIB);
  sparseData().copy(bytes, 64 * KIB, 4 * KIB);
  return bytes;
}

function fileItem(path: string, content: Buffer, fields: Partial<EntryMeta> = {}): RestoreMessageItem {
  return {
    meta: EntryMeta.fromPartial({
      path: Buffer.from(path), type: EntryType.ENTRY_TYPE_FILE, mode: 0o100644, size: content.length, nlink: 1,
      uid: process.getuid!(), gid: process.getgid!(), mtimeSec: BACKUP_MTIME_SEC, ...fields,
    }),
    inline: { content, sha256: createHash('sha256').update(content).digest() },
  };
}

function items(fields: Partial<EntryMeta> = {}): RestoreMessageItem[] {
  return [
    fileItem('/dense.txt', Buffer.from(DENSE_TEXT), fields),
    fileItem('/sparse.img', sparseData(), { size: SPARSE.size, extents: SPARSE.extents, ...fields }),
  ];
}

/** Writes the sparse file with real holes (data only at its extents), then sets mode and mtime as the backup's. */
async function liveFiles(target: string, change: (sparse: Buffer) => Buffer = (bytes) => bytes, mtimeSec = BACKUP_MTIME_SEC): Promise<void> {
  await writeFile(join(target, 'dense.txt'), DENSE_TEXT);
  const bytes = change(sparseBytes());
  const fd = openSync(join(target, 'sparse.img'), 'w');
  try {
    // Only the non-zero blocks are written: the rest stays holes, as a sparse file's would.
    for (let at = 0; at < bytes.length; at += 4 * KIB) {
      const block = bytes.subarray(at, at + 4 * KIB);
      if (block.some((byte) => byte !== 0)) writeSync(fd, block, 0, block.length, at);
    }
    ftruncateSync(fd, bytes.length);
  } finally {
    closeSync(fd);
  }
  for (const name of ['dense.txt', 'sparse.img']) {
    await chmod(join(target, name), 0o644);
    await utimes(join(target, name), mtimeSec, mtimeSec);
  }
}

async function restore(t: { after(fn: () => void): void }, prepare: (target: string) => Promise<void>, entries: RestoreMessageItem[],
  overwrite: OverwritePolicy = 'never'): Promise<{ target: string; writer: RestoreWriter; folderBefore: FolderTimes }> {
  const target = await realpath(await mkdtemp(join(tmpdir(), 'cpsbackup-restore-compare-')));
  t.after(() => removeTree(target));
  await prepare(target);
  const folderBefore = await folderTimes(target);
  const tree = await RestoreTree.open(target);
  try {
    const writer = new RestoreWriter(tree, { strip: 0, overwrite, isRoot });
    for (const item of entries) await writer.write(item);
    writer.finish();
    return { target, writer, folderBefore };
  } finally {
    tree.close();
  }
}

interface FolderTimes { readonly mtimeNs: bigint; readonly ctimeNs: bigint }

/** A temporary file made and removed there, even for an instant, moves both. */
async function folderTimes(folder: string): Promise<FolderTimes> {
  const { mtimeNs, ctimeNs } = await lstat(folder, { bigint: true });
  return { mtimeNs, ctimeNs };
}

function extentsOf(path: string): { offset: number; length: number }[] {
  const fd = openSync(path, 'r');
  try {
    return dataExtents(fd);
  } finally {
    closeSync(fd);
  }
}

test('files already there with the backup\'s content, holes inside and at the end: compared as they arrive, their folder never touched', async (t) => {
  // always too: --overwrite replaces what differs; rewriting an identical file split its links outside the restore (found by review).
  for (const overwrite of ['never', 'if-newer', 'always'] as const) {
    const { target, writer, folderBefore } = await restore(t, (target) => liveFiles(target), items(), overwrite);
    assert.deepEqual(writer.outcome.failures, []);
    assert.deepEqual(writer.outcome.keptExisting, [], `${overwrite}: identical files are no conflict`);
    assert.equal(writer.outcome.files, 0);
    assert.deepEqual(await folderTimes(target), folderBefore, `${overwrite}: the live folder's mtime or ctime moved: a temporary file was made there`);
    assert.deepEqual((await readdir(target)).sort(), ['dense.txt', 'sparse.img']);
  }
});

test('a byte in a hole of the file there, in its data or past its end is a difference: kept and listed as before, nothing written', async (t) => {
  const changes: [string, (bytes: Buffer) => Buffer][] = [
    ['in the hole between the extents', (bytes) => { bytes[20 * KIB] = 1; return bytes; }],
    ['in the hole at the end', (bytes) => { bytes[SPARSE.size - 1] = 1; return bytes; }],
    ['in the data', (bytes) => { bytes[64 * KIB + 5] ^= 0xff; return bytes; }],
    ['one zero byte longer', (bytes) => Buffer.concat([bytes, Buffer.alloc(1)])],
    ['one byte shorter', (bytes) => bytes.subarray(0, bytes.length - 1)],
  ];
  for (const [where, change] of changes) {
    const { target, writer, folderBefore } = await restore(t, (target) => liveFiles(target, change), items());
    assert.deepEqual(writer.outcome.failures, [], where);
    assert.deepEqual(writer.outcome.keptExisting,
      [`${target}/sparse.img: exists and differs from the backup; kept (--overwrite replaces it)`], where);
    assert.ok((await readFile(join(target, 'sparse.img'))).equals(change(sparseBytes())), `${where}: the live file was changed`);
    assert.deepEqual(await folderTimes(target), folderBefore, `${where}: a file kept whatever it holds was written all the same`);
  }
});

test('--overwrite=if-newer over a whole-second mtime: the copy starts at the difference, the bytes before it taken from the file there', async (t) => {
  // A target keeping whole seconds holds the backup's mtime (no metadata difference), yet the backup's
  // copy is newer by its nanoseconds: if-newer replaces the file once its content is found to differ.
  const newer = items({ mtimeNsec: 123_456_789 });
  const changes: [string, (bytes: Buffer) => Buffer][] = [
    ['in the second extent', (bytes) => { bytes[64 * KIB + 5] ^= 0xff; return bytes; }],
    ['in the hole at the end', (bytes) => { bytes[SPARSE.size - 1] = 1; return bytes; }],
  ];
  for (const [where, change] of changes) {
    const { target, writer } = await restore(t, (target) => liveFiles(target, change), newer, 'if-newer');
    assert.deepEqual(writer.outcome.failures, [], where);
    assert.deepEqual(writer.outcome.keptExisting, [], where);
    assert.equal(writer.outcome.files, 1, `${where}: only the differing file is written`);
    const restored = join(target, 'sparse.img');
    assert.ok((await readFile(restored)).equals(sparseBytes()), `${where}: the replaced file is not the backup's`);
    // A file system without holes reports the whole file as one extent.
    const extents = extentsOf(restored);
    if (!(extents.length === 1 && extents[0].length === SPARSE.size)) {
      assert.deepEqual(extents, [{ offset: 0, length: 4 * KIB }, { offset: 64 * KIB, length: 4 * KIB }], `${where}: holes were filled`);
    }
    assert.equal((await lstat(restored, { bigint: true })).mtimeNs, BigInt(BACKUP_MTIME_SEC) * 1_000_000_000n + 123_456_789n);
    assert.deepEqual((await readdir(target)).sort(), ['dense.txt', 'sparse.img'], 'a temporary file was left');
  }
  // The dense file, identical, was not replaced for its nanoseconds.
  const { target, writer } = await restore(t, (target) => liveFiles(target), newer, 'if-newer');
  assert.equal(writer.outcome.files, 0);
  assert.equal((await lstat(join(target, 'dense.txt'), { bigint: true })).mtimeNs, BigInt(BACKUP_MTIME_SEC) * 1_000_000_000n);
});

test('--overwrite=always replaces a differing file; a differing file under if-newer with an older mtime is replaced', async (t) => {
  const always = await restore(t, (target) => liveFiles(target, (bytes) => { bytes[3] ^= 1; return bytes; }), items(), 'always');
  assert.deepEqual(always.writer.outcome.keptExisting, []);
  assert.equal(always.writer.outcome.files, 1, 'the differing file is written, the identical one left');
  assert.ok((await readFile(join(always.target, 'sparse.img'))).equals(sparseBytes()));

  const older = await restore(t, (target) => liveFiles(target, (bytes) => { bytes[3] ^= 1; return bytes; }, BACKUP_MTIME_SEC - 3600), items(), 'if-newer');
  assert.deepEqual(older.writer.outcome.keptExisting, []);
  assert.equal(older.writer.outcome.files, 2, 'both are older than the backup\'s copies (their mtimes differ): both replaced, as before');
  assert.ok((await readFile(join(older.target, 'sparse.img'))).equals(sparseBytes()));
});

test('a symlink where the backup has a file: kept and listed as before, and no copy of the file made beside it', async (t) => {
  const { target, writer, folderBefore } = await restore(t, (target) => symlink('elsewhere', join(target, 'dense.txt')), [items()[0]]);
  assert.deepEqual(writer.outcome.keptExisting, [`${target}/dense.txt: exists and differs from the backup; kept (--overwrite replaces it)`]);
  assert.equal(await readlink(join(target, 'dense.txt')), 'elsewhere');
  assert.deepEqual(await folderTimes(target), folderBefore, 'a file kept whatever it holds was written all the same');

  const replaced = await restore(t, (target) => symlink('elsewhere', join(target, 'dense.txt')), [items()[0]], 'always');
  assert.equal(await readFile(join(replaced.target, 'dense.txt'), 'utf8'), DENSE_TEXT);
});
