// Regression: an unchanged file took its attributes from the parent backup, the names beside its ACLs
// (acl-names.ts) included. After `usermod -l new old; useradd -u OTHER old` nothing in the file's stat
// changes, so the next backup recorded its ACL's uid under the old name, exit 0, --diff silent, and its
// restore gave the permission to the new holder of that name (tar's rule maps names back). Now a file
// whose stored ACL names are not this machine's names now is read again; a folder's attributes are read
// every backup. Made for real: throwaway users and groups (removed even when the test fails).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runBackup } from '../src/client/uploader';
import { runRestore } from '../src/client/restorer';
import { BackupKind } from '../src/proto/cpsbackup';
import { startInProcessServer } from './support/in-process-server';
import { pastRacyWindow } from './support/racy-window';
import { runs } from './support/runs';

const isRoot = process.geteuid?.() === 0;

/** The numeric ACL of a path as getfacl prints it, comments left out. */
function numericAcl(path: string, isDefault = false): string[] {
  return execFileSync('getfacl', ['-n', '-p', '-c', ...(isDefault ? ['-d'] : []), path], { encoding: 'utf8' }).split('\n').filter((line) => line !== '');
}

/** An id no user (or group) has here, from `from` up. */
function freeId(database: 'passwd' | 'group', from: number): number {
  for (let id = from; id < from + 1000; id++) {
    if (!runs('getent', [database, String(id)])) return id;
  }
  throw new Error(`no free ${database} id from ${from}`);
}

function run(command: string, args: readonly string[]): void {
  execFileSync(command, args, { stdio: 'pipe' });
}

test('a user or group renamed, its old name given to another id: the next backup records the new names, unchanged file or not', {
  skip: isRoot ? false : 'making users and groups needs root',
}, async (t) => {
  if (!runs('useradd', ['--help']) || !runs('groupadd', ['--help']) || !runs('setfacl', ['--help'])) {
    t.skip('useradd, groupadd or setfacl is missing');
    return;
  }
  const tag = String(process.pid % 100_000);
  const [userA, userB, groupA, groupB] = [`cpsacl${tag}ua`, `cpsacl${tag}ub`, `cpsacl${tag}ga`, `cpsacl${tag}gb`];
  // Removed whatever happened: by every name they may have by then.
  t.after(() => {
    for (const name of [userA, userB]) runs('userdel', [name]);
    for (const name of [groupA, groupB]) runs('groupdel', [name]);
  });
  const firstUid = freeId('passwd', 43_100 + (process.pid % 400));
  const firstGid = freeId('group', 43_100 + (process.pid % 400));
  run('useradd', ['-M', '-N', '-u', String(firstUid), '-s', '/usr/sbin/nologin', userA]);
  run('groupadd', ['-g', String(firstGid), groupA]);

  const harness = await startInProcessServer(['node1']);
  t.after(() => harness.stop());
  const data = join(harness.sandbox.root, 'data');
  const folder = join(data, 'inbox');
  mkdirSync(folder, { recursive: true });
  const files = {
    // Owned by root: its owner's names do not change, so on its own it joined a carried run.
    byRoot: join(data, 'by-root.txt'),
    // Owned by the renamed user: its owner's names are new, so it went as a reference with the parent's attributes.
    byUser: join(data, 'by-user.txt'),
    // Names nobody renamed: still unchanged, not read again.
    steady: join(data, 'steady.txt'),
    plain: join(data, 'plain.txt'),
  };
  for (const path of Object.values(files)) writeFileSync(path, `${path}\n`);
  chownSync(files.byUser, firstUid, firstGid);
  const acl = `u:${userA}:rwx,g:${groupA}:r--`;
  if (!runs('setfacl', ['-m', acl, files.byRoot]) || !runs('setfacl', ['-m', acl, files.byUser]) || !runs('setfacl', ['-m', 'u:root:r--,g:root:r--', files.steady])
    || !runs('setfacl', ['-m', `u:${userA}:rwx`, folder]) || !runs('setfacl', ['-d', '-m', `u:${userA}:rwx,g:${groupA}:r-x`, folder])) {
    t.skip('this file system has no ACLs');
    return;
  }
  const config = await harness.nodeConfig('node1', [`include = ${data}`]);
  const backup = async (): Promise<{ backupId: number; unchangedFiles: number }> => {
    await pastRacyWindow();
    const result = await runBackup(config, { kind: BackupKind.BACKUP_KIND_COMPLETE });
    assert.deepEqual(result.progress.unreadable, []);
    return { backupId: result.summary.backupId, unchangedFiles: result.progress.unchangedFiles };
  };
  const first = await backup();

  // userA's uid is userB's now, and the name userA another uid's; the same for the group.
  run('usermod', ['-l', userB, userA]);
  const secondUid = freeId('passwd', firstUid + 1);
  run('useradd', ['-M', '-N', '-u', String(secondUid), '-s', '/usr/sbin/nologin', userA]);
  run('groupmod', ['-n', groupB, groupA]);
  const secondGid = freeId('group', firstGid + 1);
  run('groupadd', ['-g', String(secondGid), groupA]);
  const second = await backup();

  const target = join(harness.sandbox.root, 'restored');
  const restored = await runRestore(config, { backupId: second.backupId, to: target });
  assert.deepEqual(restored.failures, []);
  const expected = ['user::rw-', `user:${firstUid}:rwx`, 'group::r--', `group:${firstGid}:r--`, 'mask::rwx', 'other::r--'];
  assert.deepEqual(numericAcl(join(target, files.byRoot)), expected, 'the ACL names the ids on disk, as the disk does (a file the parent held as it is)');
  assert.deepEqual(numericAcl(join(target, files.byUser)), expected, 'the same for a file whose owner was renamed');
  assert.deepEqual(numericAcl(files.byRoot), expected, 'as on disk');
  assert.ok(numericAcl(join(target, folder)).includes(`user:${firstUid}:rwx`), 'a folder\'s access ACL');
  assert.deepEqual(numericAcl(join(target, folder), true).filter((line) => /^(user|group):\d/.test(line)), [`user:${firstUid}:rwx`, `group:${firstGid}:r-x`],
    'a folder\'s default ACL');

  // The new names show: the owner's in the listing, the ACLs' as a change of attributes.
  const show = await harness.sandbox.runClient(['-c', join(harness.sandbox.root, 'node1.conf'), '-s', String(second.backupId)]);
  assert.equal(show.code, 0, show.stdout + show.stderr);
  assert.match(show.stdout, new RegExp(`${userB}:${groupB} .*by-user\\.txt`));
  const diff = await harness.sandbox.runClient(['-c', join(harness.sandbox.root, 'node1.conf'), '--diff', String(first.backupId), String(second.backupId)]);
  assert.equal(diff.code, 0, diff.stdout + diff.stderr);
  assert.match(diff.stdout, /^M file .*by-root\.txt {2}\(xattrs\)$/m, diff.stdout);
  assert.match(diff.stdout, /^M file .*by-user\.txt {2}\(owner, xattrs\)$/m, diff.stdout);
  assert.doesNotMatch(diff.stdout, /steady|plain/, 'nothing else changed');

  // Read again only where names changed; with the names recorded anew, nothing is read again.
  assert.equal(second.unchangedFiles, 2, 'steady.txt and plain.txt unchanged, the two renamed ones read again');
  const third = await backup();
  assert.equal(third.unchangedFiles, 4, 'every file unchanged once its names are current');
});
