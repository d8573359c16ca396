// Regression (security review): the receiver wrote its state through `open(<state>.<pid>.tmp, 'w')`, which
// follows a symlink and truncates what it points to, then renamed that name over the state file. A symlink
// planted at the temporary name in state_directory/receive had root overwrite the file it led to and left
// the state a symlink. The temporary file is now made O_CREAT|O_EXCL|O_NOFOLLOW after removing the name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readReceiveState, receiveFolder, writeReceiveState, type ReceiveState } from '../src/client/receiver/receive-state';
import { withTempFolder } from './support/temp-folder';

test('a symlink at the state\'s temporary name is replaced, not written through', async () => {
  await withTempFolder('cpsbackup-receive-state-', async (folder) => {
    const victim = join(folder, 'victim');
    await writeFile(victim, 'not the receiver\'s');
    await mkdir(receiveFolder(folder), { recursive: true });
    const file = join(receiveFolder(folder), 'prod.json');
    await symlink(victim, `${file}.${process.pid}.tmp`);
    const state: ReceiveState = {
      client: 'prod', backupId: 7, kind: 'complete', backupStartedAt: '2026-01-01T00:00:00.000Z', appliedAt: '2026-01-01T00:00:01.000Z',
    };
    await writeReceiveState(folder, 'prod', state);
    assert.equal(await readFile(victim, 'utf8'), 'not the receiver\'s', 'the file the symlink pointed to is untouched');
    assert.ok((await lstat(file)).isFile(), 'the state is a regular file, not the symlink');
    assert.equal((await readReceiveState(folder, 'prod'))?.backupId, 7);
  });
});
