// Regression: the owner was restored by name where the name exists (tar's rule) but the ACLs' named
// users and groups by their recorded ids. Restored onto a machine whose ids differ (a rebuilt host, LDAP
// against local ids, a container), the owner went to the new id while the ACL kept granting the old one,
// another account or nobody, exit 0. Now the ACLs name their users and groups as the owner does.
// Made for real: the restore runs in a mount namespace whose /etc/passwd and /etc/group give `daemon`
// another id, as another machine would.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chownSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runs } from './support/runs';
import { Sandbox, runNode } from './support/sandbox';

const isRoot = process.geteuid?.() === 0;
const DIST_CLI = join(__dirname, '..', 'src', 'cli');


/** The numeric ACL of a file as getfacl prints it, comments left out. */
function numericAcl(path: string, isDefault = false): string[] {
  return execFileSync('getfacl', ['-n', '-p', '-c', ...(isDefault ? ['-d'] : []), path], { encoding: 'utf8' }).split('\n').filter((line) => line !== '');
}

/** This machine's passwd and group, with daemon's user and group id made 777 (bin keeps 2). */
function remappedAccounts(folder: string): { passwd: string; group: string } {
  const passwd = join(folder, 'passwd');
  const group = join(folder, 'group');
  writeFileSync(passwd, readFileSync('/etc/passwd', 'utf8').replace(/^daemon:x:1:1:/m, 'daemon:x:777:777:'));
  writeFileSync(group, readFileSync('/etc/group', 'utf8').replace(/^daemon:x:1:/m, 'daemon:x:777:'));
  return { passwd, group };
}

test('ACL entries name their users and groups as the owner does: by name where it exists on the restoring machine', {
  skip: isRoot ? false : 'giving files owners and a mount namespace need root',
}, async (t) => {
  const accounts = readFileSync('/etc/passwd', 'utf8');
  if (!/^daemon:x:1:1:/m.test(accounts) || !/^bin:x:2:2:/m.test(accounts) || !/^daemon:x:1:/m.test(readFileSync('/etc/group', 'utf8'))) {
    t.skip('this machine has no daemon (1:1) and bin (2:2) accounts to rename');
    return;
  }
  if (!runs('unshare', ['-m', 'true'])) {
    t.skip('mount namespaces are not available here');
    return;
  }
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  const data = join(sandbox.root, 'data');
  const file = join(data, 'shared.txt');
  const folder = join(data, 'inbox');
  mkdirSync(folder, { recursive: true });
  writeFileSync(file, 'daemon and bin may read this\n');
  chownSync(file, 1, 1);
  // daemon (1) before bin (2) here; daemon becomes 777 there, so the kernel's order (by id) changes too.
  if (!runs('setfacl', ['-m', 'u:daemon:rwx,u:bin:r--,g:daemon:rw-', file]) || !runs('setfacl', ['-d', '-m', 'u:daemon:rwx,g:daemon:r-x', folder])) {
    t.skip('setfacl is missing, or this file system has no ACLs');
    return;
  }

  await sandbox.startServer();
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
  const backup = await sandbox.runClient(['-c', config, '-e']);
  assert.equal(backup.code, 0, backup.stdout + backup.stderr);

  const { passwd, group } = remappedAccounts(sandbox.root);
  const target = join(sandbox.root, 'restored');
  mkdirSync(target);
  // The restore, on "another machine": daemon is 777 there.
  const elsewhere = ['unshare', '-m', 'sh', '-c', `mount --bind ${passwd} /etc/passwd && mount --bind ${group} /etc/group && exec "$0" "$@"`];
  const restore = await runNode(join(DIST_CLI, 'cpsbackup.js'), ['-c', config, '-i', '1', '--to', target], 120_000, elsewhere);
  assert.equal(restore.code, 0, restore.stdout + restore.stderr);

  const restoredFile = join(target, file);
  assert.equal(statSync(restoredFile).uid, 777, 'the owner is daemon by name');
  assert.deepEqual(numericAcl(restoredFile), [
    'user::rw-', 'user:2:r--', 'user:777:rwx', 'group::r--', 'group:777:rw-', 'mask::rwx', 'other::r--',
  ], 'the ACL grants daemon by name (777 there), bin keeps 2, in the kernel\'s order');
  const restoredFolder = join(target, folder);
  assert.deepEqual(numericAcl(restoredFolder, true).filter((line) => /:(777|1):/.test(line)), [
    'user:777:rwx', 'group:777:r-x',
  ], 'the default ACL too');

  // In place on that machine: the restored tree is the backup's as given there, nothing differs.
  const again = await runNode(join(DIST_CLI, 'cpsbackup.js'), ['-c', config, '-i', '1', '--to', target], 120_000, elsewhere);
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.doesNotMatch(again.stdout + again.stderr, /ACL/, 'no ACL is reported as different');

  // Here, where daemon is 1: the same backup gives the ids it was taken with.
  const home = join(sandbox.root, 'restored-here');
  mkdirSync(home);
  const here = await sandbox.runClient(['-c', config, '-i', '1', '--to', home]);
  assert.equal(here.code, 0, here.stdout + here.stderr);
  assert.deepEqual(numericAcl(join(home, file)), numericAcl(file), 'restored where it was taken, the ACL is as it was');
});
