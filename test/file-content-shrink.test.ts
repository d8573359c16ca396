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
import { FileContent, ShrankWhileReadError } from '../src/client/file-content';
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
  assert.throws(() => whole.readWhole(), ShrankWhileReadError);
  const wholeAgain = whole.readAgain();
  t.after(() => wholeAgain.close());
  assert.equal(wholeAgain.statAtOpen.size, 1000);
  assert.ok(wholeAgain.readWhole().equals(Buffer.alloc(1000, 0x61)));

  const framedFile = fileWith(t, 4 * MIB, [0], 4 * MIB);
  const framed = FileContent.open(framedFile.fd);
  t.after(() => framed.close());
  assert.deepEqual(framed.extents, []);
  truncateSync(framedFile.path, MIB);
  await assert.rejects(readFrames(framed), ShrankWhileReadError);
  const framedAgain = framed.readAgain();
  t.after(() => framedAgain.close());
  assert.equal(await readFrames(framedAgain), MIB);
  framed.close();
  assert.equal(statFd(framedAgain.fd).size, MIB, 'the fd was handed over: closing the first description leaves it open');
});

test('a file that says it holds more than it reads, and does not change (a sysfs attribute says 4096 bytes), is read as it is', (t) => {
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
  const bytes = content.readWhole();
  assert.ok(bytes.length > 0 && bytes.length < content.statAtOpen.size, `read ${bytes.length} of a declared ${content.statAtOpen.size}`);
  assert.match(bytes.toString(), /\[\w+\]/, 'the attribute as the kernel gives it');
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
