// Regression: a backup opened its dump FIFO by path and never checked it was the one it had made. A restore
// beside it (-i in place) renamed its restored dump file over the FIFO between mkfifo and open: the dumper
// wrote the live database into that file, the restore loaded the mixture (exit 0), and the backup died with
// "TypeError [ERR_INVALID_FD_TYPE]: Unsupported fd type: FILE". Now the open refuses what it did not make.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeDescriptor, makeFifo, openFifoEnds, type FifoEnds, type FifoIdentity } from '../src/client/sources/fifo';
import { DumpFailedError } from '../src/common/errors';

// Called as the backup calls it; typed loosely so this file also runs against the one-argument version it guards against.
const open = openFifoEnds as unknown as (sourceName: string, path: string, identity: FifoIdentity) => Promise<FifoEnds>;

test('a dump file renamed over the backup\'s FIFO before its open is refused, and left as it was', async (t) => {
  const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-fifo-'));
  t.after(() => rm(folder, { recursive: true, force: true }));
  const path = join(folder, 'dump');
  const identity = await makeFifo('app', path);
  await writeFile(join(folder, '.restore.tmp'), 'RESTORE-ME\n');
  await rename(join(folder, '.restore.tmp'), path);
  await assert.rejects(open('app', path, identity),
    (error: unknown) => error instanceof DumpFailedError && /no longer holds the FIFO this backup made there but a regular file/.test(error.message));
  assert.equal(await readFile(path, 'utf8'), 'RESTORE-ME\n');
});

test('another FIFO put under the name is refused too; the FIFO the backup made opens', async (t) => {
  const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-fifo-'));
  t.after(() => rm(folder, { recursive: true, force: true }));
  const path = join(folder, 'dump');
  const first = await makeFifo('app', path);
  await rename(path, `${path}.aside`); // kept: a removed inode's number may be reused at once
  const second = await makeFifo('app', path);
  await assert.rejects(open('app', path, first), (error: unknown) => error instanceof DumpFailedError && /but another FIFO/.test(error.message));
  const ends = await open('app', path, second);
  await closeDescriptor(ends.writeDescriptor);
  await closeDescriptor(ends.readDescriptor);
});
