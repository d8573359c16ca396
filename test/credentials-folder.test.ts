// Regression (security review): database credentials were written into <work_directory>/credentials/run-*/
// whoever could write to that folder: someone who could rename the run's folder away and put a symlink to
// a folder of theirs at its name read the password written "into" it. That folder must now be root's alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DumpFailedError } from '../src/common/errors';
import { makePrivateFolder } from '../src/client/sources/tables/credentials';
import { failOpenatOf } from './support/failing-openat';
import { withTempFolder } from './support/temp-folder';

const fail = (message: string): DumpFailedError => new DumpFailedError('shop', message);

test('no credential file is written in a credentials folder others may write to, or below a folder they may replace', async () => {
  await withTempFolder('cpsbackup-credentials-', async (folder) => {
    const work = join(folder, 'work');
    const credentials = join(work, 'credentials');
    await mkdir(credentials, { recursive: true, mode: 0o700 });
    for (const writable of [credentials, work]) {
      await chmod(writable, 0o777);
      await assert.rejects(makePrivateFolder(work, fail), (error: unknown) => error instanceof DumpFailedError
        && /no credential file written: .*(may be written to by others|where someone other than root may replace folders)/.test(error.message));
      assert.deepEqual(await readdir(credentials), [], 'no run folder made');
      await chmod(writable, 0o700);
    }
    const made = await makePrivateFolder(work, fail);
    await made.write('pgpass', 'secret');
    await made.remove();
  });
});

// A check that could not be made (EACCES, ELOOP, ENOENT on the way) refuses with the credentials
// refusal naming why, as an untrusted folder does, rather than an unexplained system error.
test('no credential file is written where the credentials folder cannot be checked, the reason named', async (t) => {
  await withTempFolder('cpsbackup-credentials-', async (folder) => {
    const work = join(folder, 'work');
    const credentials = join(work, 'credentials');
    await mkdir(credentials, { recursive: true, mode: 0o700 });
    failOpenatOf(t, 'credentials', 'EACCES');
    await assert.rejects(makePrivateFolder(work, fail), (error: unknown) => error instanceof DumpFailedError
      && /no credential file written: .*\/credentials could not be checked \(EACCES: /.test(error.message));
    assert.deepEqual(await readdir(credentials), [], 'no run folder made');
  });
});
