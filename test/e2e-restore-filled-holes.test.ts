// Regression (review): a restore onto an existing sparse file compared the backup's holes only as
// "reads as zeros", so a file whose holes had been filled with zeros (its times put back) counted as
// identical: exit 0, 10 MiB allocated where the backup's file took none, even with --overwrite. Data where
// the backup has a hole is a difference now; an untouched restored file is still identical. Its first
// version judged by SEEK_DATA, which calls a range fallocate reserved "data" once a read has put it in
// the page cache: every in-place restore of a preallocated file (journald, databases) differed. Written
// data is told by FIEMAP now, and such a file, read or not, is identical.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, open, readFile, rm, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox } from './support/sandbox';

const MIB = 1024 * 1024;

async function writeAt(path: string, data: Buffer, position: number): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    await handle.write(data, 0, data.length, position);
  } finally {
    await handle.close();
  }
}

/** 64 KiB written, then 4 MiB reserved by fallocate and never written, as journald makes its journals. */
async function preallocated(path: string): Promise<void> {
  await writeFile(path, Buffer.alloc(64 * 1024, 5));
  execFileSync('fallocate', ['-o', String(64 * 1024), '-l', String(4 * MIB - 64 * 1024), path]);
}

/** Whole seconds, so that putting them back through utimes (milliseconds) is exact. */
const MTIME = 1_700_000_000;

/** Fills [from, to) with zeros and puts the file's times back, as a copy without --sparse would leave it. */
async function fillWithZeros(path: string, from: number, to: number): Promise<void> {
  await writeAt(path, Buffer.alloc(to - from), from);
  await utimes(path, MTIME, MTIME);
}

test('a restore onto a sparse file whose holes were filled sees the difference; an untouched one stays identical', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  const data = join(sandbox.root, 'data');
  await mkdir(data);
  await writeFile(join(data, 'all-hole'), '');
  await truncate(join(data, 'all-hole'), 10 * MIB);
  await writeFile(join(data, 'hole-mid'), Buffer.alloc(64 * 1024, 7));
  await writeAt(join(data, 'hole-mid'), Buffer.alloc(64 * 1024, 9), 4 * MIB);
  await truncate(join(data, 'hole-mid'), 8 * MIB);
  await writeFile(join(data, 'untouched-sparse'), '');
  await writeAt(join(data, 'untouched-sparse'), Buffer.from('end'), 3 * MIB);
  await writeFile(join(data, 'dense'), Buffer.alloc(300 * 1024, 1));
  await preallocated(join(data, 'journal'));
  for (const name of ['all-hole', 'hole-mid', 'untouched-sparse', 'dense', 'journal']) await utimes(join(data, name), MTIME, MTIME);
  await sandbox.startServer();
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
  const run = (args: string[]) => sandbox.runClient(['-c', config, ...args]);
  assert.equal((await run(['-e'])).code, 0);

  const target = join(sandbox.root, 'out');
  const first = await run(['-i', '--to', target]);
  assert.equal(first.code, 0, first.stderr);
  const restored = (name: string): string => join(target, data, name);
  assert.equal((await stat(restored('all-hole'))).blocks, 0, 'the restore keeps the hole');
  // Restored again untouched: nothing differs, nothing is written.
  const again = await run(['-i', '--to', target]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout + again.stderr, /\b0 files\b/);

  // A preallocated file where the restore put a sparse one, read whole (its reserved range now in the
  // page cache): the same file, not a difference.
  await rm(restored('journal'));
  await preallocated(restored('journal'));
  await utimes(restored('journal'), MTIME, MTIME);
  await readFile(restored('journal'));
  const preallocatedAgain = await run(['-i', '--to', target]);
  assert.equal(preallocatedAgain.code, 0, preallocatedAgain.stdout + preallocatedAgain.stderr);
  assert.match(preallocatedAgain.stdout + preallocatedAgain.stderr, /\b0 files\b/);

  await fillWithZeros(restored('all-hole'), 0, 10 * MIB);
  await fillWithZeros(restored('hole-mid'), 64 * 1024, 4 * MIB);
  const kept = await run(['-i', '--to', target]);
  assert.equal(kept.code, 3, kept.stdout + kept.stderr);
  for (const name of ['all-hole', 'hole-mid']) {
    assert.match(kept.stderr, new RegExp(`not replaced: ${restored(name)}: exists and differs from the backup; kept`), kept.stderr);
  }
  assert.doesNotMatch(kept.stderr, /untouched-sparse|dense|journal/, kept.stderr);
  assert.ok((await stat(restored('all-hole'))).blocks * 512 >= 10 * MIB, 'kept as it is');

  const replaced = await run(['-i', '--to', target, '--overwrite']);
  assert.equal(replaced.code, 0, replaced.stderr);
  assert.equal((await stat(restored('all-hole'))).blocks, 0, 'its holes are back');
  assert.ok((await stat(restored('hole-mid'))).blocks * 512 <= 256 * 1024, `${(await stat(restored('hole-mid'))).blocks} blocks`);
});
