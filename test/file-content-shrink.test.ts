// A file cut shorter while a backup reads it, sparse or dense: its read throws ShrankWhileReadError (the
// sender reads it once more, entry-sender-shrink.test.ts): what was read is neither the old file nor the
// new one. A dense one was stored as read (a 400 MiB file truncated 0.9 s into its read: 17 MiB of the old
// one, exit 0). A file that says it is bigger than it reads, unchanged (a sysfs attribute), is read as it
// is. A sparse file that grows between its stat and the extents' lookup declares only the extents within
// the size seen at open.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync, truncateSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileContent, FileReadError, ShrankWhileReadError } from '../src/client/file-content';
import * as dataExtentsModule from '../src/client/posix/data-extents';
import { extentsWithin } from '../src/client/posix/data-extents';
import { statFd } from '../src/client/posix/at';

const MIB = 1024 * 1024;

/** A file of `size` bytes holding `data` bytes at each offset, holes between: its path and an fd for FileContent. */
function fileWith(t: { after(fn: () => void): void }, size: number, offsets: readonly number[], data: number): { path: string; fd: number } {
  const root = mkdtempSync(join(tmpdir(), 'cpsbackup-shrink-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const path = join(root, 'file');
  const writer = openSync(path, 'w');
  for (const offset of offsets) writeSync(writer, Buffer.alloc(data, 0x61), 0, data, offset);
  ftruncateSync(writer, size);
  closeSync(writer);
  return { path, fd: openSync(path, 'r') };
}

/** What the call threw, or undefined. */
function errorOf(call: () => unknown): unknown {
  try {
    call();
  } catch (error) {
    return error;
  }
  return undefined;
}

async function readFrames(content: FileContent): Promise<number> {
  let bytes = 0;
  for await (const frame of content.frames()) bytes += 'chunk' in frame ? frame.chunk.length : frame.length;
  return bytes;
}

test('a sparse file that shrinks while it is read is refused, whole or framed', async (t) => {
  const smallFile = fileWith(t, 16 * MIB, [0, 8 * MIB], 64 * 1024);
  const small = FileContent.open(smallFile.fd);
  t.after(() => small.close());
  if (small.extents.length === 0) {
    t.skip(`${tmpdir()} keeps no holes: nothing sparse to test`);
    return;
  }
  truncateSync(smallFile.path, MIB);
  assert.throws(() => small.readWhole(), ShrankWhileReadError);

  const bigFile = fileWith(t, 16 * MIB, [0, 8 * MIB], 2 * MIB);
  const big = FileContent.open(bigFile.fd);
  t.after(() => big.close());
  assert.ok(big.dataBytes > MIB, 'read as frames');
  truncateSync(bigFile.path, MIB);
  await assert.rejects(readFrames(big), ShrankWhileReadError);
});

test('a dense file that shrinks while it is read is refused too, whole or framed; read again, it is what it is now', async (t) => {
  const wholeFile = fileWith(t, 64 * 1024, [0], 64 * 1024);
  const whole = FileContent.open(wholeFile.fd);
  t.after(() => whole.close());
  assert.deepEqual(whole.extents, []);
  truncateSync(wholeFile.path, 1000);
  const shrank = errorOf(() => whole.readWhole());
  assert.ok(shrank instanceof ShrankWhileReadError);
  assert.equal(shrank.wholeRead?.length, 1000, 'all it read: up to its new end');
  const wholeAgain = whole.readAgain(shrank);
  t.after(() => wholeAgain.close());
  assert.equal(wholeAgain.statAtOpen.size, 1000);
  assert.ok(wholeAgain.readWhole().equals(Buffer.alloc(1000, 0x61)));

  const framedFile = fileWith(t, 4 * MIB, [0], 4 * MIB);
  const framed = FileContent.open(framedFile.fd);
  t.after(() => framed.close());
  assert.deepEqual(framed.extents, []);
  truncateSync(framedFile.path, MIB);
  const framedShrank = await readFrames(framed).then(() => undefined, (error: unknown) => error);
  assert.ok(framedShrank instanceof ShrankWhileReadError);
  assert.equal(framedShrank.wholeRead, undefined, 'read in frames: not all it read is at hand');
  const framedAgain = framed.readAgain(framedShrank);
  t.after(() => framedAgain.close());
  assert.equal(await readFrames(framedAgain), MIB);
  framed.close();
  assert.equal(statFd(framedAgain.fd).size, MIB, 'the fd was handed over: closing the first description leaves it open');
});

test('a file that says it holds more than it reads (a sysfs attribute says 4096 bytes) reads short once, then the same again, unchanged: read as it is', (t) => {
  const attribute = '/sys/kernel/mm/transparent_hugepage/enabled';
  let fd: number;
  try {
    fd = openSync(attribute, 'r');
  } catch (error) {
    t.skip(`${attribute} cannot be opened here (${(error as NodeJS.ErrnoException).code}): no such file to test`);
    return;
  }
  const content = FileContent.open(fd);
  t.after(() => content.close());
  if (content.statAtOpen.size <= 100) {
    t.skip(`${attribute} says ${content.statAtOpen.size} bytes here, not more than it holds`);
    return;
  }
  const shrank = errorOf(() => content.readWhole());
  // The stat cannot tell it from a file cut and grown back within one timestamp tick: the first read is never taken.
  assert.ok(shrank instanceof ShrankWhileReadError);
  const again = content.readAgain(shrank);
  t.after(() => again.close());
  const bytes = again.readWhole();
  assert.ok(bytes.length > 0 && bytes.length < again.statAtOpen.size, `read ${bytes.length} of a declared ${again.statAtOpen.size}`);
  assert.match(bytes.toString(), /\[\w+\]/, 'the attribute as the kernel gives it');
  assert.equal(again.isShortByNature, true);
});

test('a file cut and grown back to its size within one timestamp tick (its stat unchanged) is no file that reads short by nature', (t) => {
  const cutFile = fileWith(t, 64 * 1024, [0], 64 * 1024);
  const declared = statFd(cutFile.fd);
  const first = new FileContent(cutFile.fd, declared);
  // Cut while the first read runs; then grown back to its size, its stat as it was (what a coarse tick does).
  truncateSync(cutFile.path, 1000);
  const shrank = errorOf(() => first.readWhole());
  assert.ok(shrank instanceof ShrankWhileReadError);
  assert.equal(shrank.wholeRead?.length, 1000);
  truncateSync(cutFile.path, 64 * 1024);
  const again = new FileContent(cutFile.fd, statFd(cutFile.fd), shrank.wholeRead);
  t.after(() => again.close());
  // Grown back by truncate: data up to its first block's end, a hole after it.
  const bytes = again.readWhole();
  assert.equal(bytes.length, again.dataBytes, 'read whole the second time, as it is now');
  assert.ok(bytes.length > 1000, 'not the first read\'s 1,000 bytes');
  assert.equal(again.isShortByNature, false);
});

// Regression (review): the second description's lseek (SEEK_HOLE) failed with ENXIO on a file cut meanwhile,
// and the raw error ended the whole backup (exit 1) where a first open's lists the file (exit 3).
test('a second read whose file cannot be described (its extents\' lseek fails) throws a FileReadError, and keeps its fd', (t) => {
  const cutFile = fileWith(t, 64 * 1024, [0], 64 * 1024);
  const content = FileContent.open(cutFile.fd);
  t.after(() => content.close());
  truncateSync(cutFile.path, 1000);
  const shrank = errorOf(() => content.readWhole());
  assert.ok(shrank instanceof ShrankWhileReadError);
  const extents = dataExtentsModule as { hasHoleBefore: typeof dataExtentsModule.hasHoleBefore };
  const hasHoleBefore = extents.hasHoleBefore;
  extents.hasHoleBefore = () => {
    throw Object.assign(new Error('ENXIO: No such device or address, lseek'), { code: 'ENXIO' });
  };
  t.after(() => { extents.hasHoleBefore = hasHoleBefore; });
  assert.throws(() => content.readAgain(shrank), (error: unknown) => error instanceof FileReadError && error.code === 'ENXIO');
  assert.equal(statFd(content.fd).size, 1000, 'the first description still holds the fd (and closes it)');
});

// Regression: the addon clamps extents to its own (later) fstat; a sparse file grown between that and
// the stat the entry declares gave extents past the declared size, and the server refused the backup.
test('extentsWithin drops the extents at or past the size and cuts the one across it', () => {
  const extents = [{ offset: 0, length: 10 }, { offset: 20, length: 10 }, { offset: 40, length: 5 }];
  assert.deepEqual(extentsWithin(extents, 50), extents);
  assert.deepEqual(extentsWithin(extents, 25), [{ offset: 0, length: 10 }, { offset: 20, length: 5 }]);
  assert.deepEqual(extentsWithin(extents, 20), [{ offset: 0, length: 10 }]);
  assert.deepEqual(extentsWithin(extents, 15), [{ offset: 0, length: 10 }]);
  assert.deepEqual(extentsWithin([{ offset: 8, length: 4 }], 8), []);
});

test('a sparse file grown after the stat its entry declares: its extents end within that size, its data fills them', async (t) => {
  const grownFile = fileWith(t, 16 * MIB, [0, 16 * MIB - 4096], 4096);
  const declared = statFd(grownFile.fd);
  // Data right after the old end (it lengthens the last extent) and far past it (a new extent).
  const writer = openSync(grownFile.path, 'r+');
  writeSync(writer, Buffer.alloc(8192, 0x62), 0, 8192, 16 * MIB);
  writeSync(writer, Buffer.alloc(4096, 0x63), 0, 4096, 32 * MIB);
  closeSync(writer);
  const grown = new FileContent(grownFile.fd, declared);
  t.after(() => grown.close());
  if (grown.extents.length === 0) {
    t.skip(`${tmpdir()} keeps no holes: nothing sparse to test`);
    return;
  }
  assert.deepEqual(grown.extents, [0, 4096, 16 * MIB - 4096, 4096]);
  assert.equal(grown.dataBytes, 8192);
  assert.ok(grown.readWhole().equals(Buffer.alloc(8192, 0x61)));
  assert.equal(await readFrames(grown), 8192);
});
