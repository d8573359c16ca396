// Regression (security review): dump FIFOs were made, checked and opened by path under
// <work_directory>/dumps/<source>/ whoever could write there. Someone who could replace the FIFO between
// mkfifo and its opening (a file of theirs at its name) had the dumper write the database into their file.
// A dump's folder must now be root's alone (and every folder above it), or that source's dump fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DumpFailedError } from '../src/common/errors';
import { startDumps } from '../src/client/sources/dump-run';
import { storageConfigFromText } from '../src/client/sources/storage-config';
import { failOpenatOf } from './support/failing-openat';
import { withTempFolder } from './support/temp-folder';

test('no dump FIFO is made in a dumps folder others may write to, or below a folder they may replace', async () => {
  await withTempFolder('cpsbackup-fifo-folder-', async (folder) => {
    const config = storageConfigFromText('storage.conf', 'source = app\nkind = command\ndump = echo the database\nload = cat\n');
    const work = join(folder, 'work');
    const sourceFolder = join(work, 'dumps', 'app');
    await mkdir(sourceFolder, { recursive: true, mode: 0o700 });
    for (const writable of [sourceFolder, work]) {
      await chmod(writable, 0o777);
      await assert.rejects(startDumps(config, work), (error: unknown) => error instanceof DumpFailedError && error.source === 'app'
        && /no dump FIFO made: .*(may be written to by others|where someone other than root may replace folders)/.test(error.message));
      assert.deepEqual(await readdir(sourceFolder).catch(() => []), [], 'no FIFO made');
      await chmod(writable, 0o700);
    }
    const run = await startDumps(config, work);
    await run.abort();
  });
});

// A check that could not be made (EACCES, ELOOP, ENOENT on the way) fails that source's dump, the
// reason named, as an untrusted folder does, rather than an unexplained system error.
test('no dump FIFO is made where the dumps folder cannot be checked, the reason named', async (t) => {
  await withTempFolder('cpsbackup-fifo-folder-', async (folder) => {
    const config = storageConfigFromText('storage.conf', 'source = app\nkind = command\ndump = echo the database\nload = cat\n');
    const work = join(folder, 'work');
    const sourceFolder = join(work, 'dumps', 'app');
    await mkdir(sourceFolder, { recursive: true, mode: 0o700 });
    failOpenatOf(t, 'app', 'ELOOP');
    await assert.rejects(startDumps(config, work), (error: unknown) => error instanceof DumpFailedError && error.source === 'app'
      && /no dump FIFO made: .*\/dumps\/app could not be checked \(ELOOP: /.test(error.message));
    assert.deepEqual(await readdir(sourceFolder), [], 'no FIFO made');
  });
});
