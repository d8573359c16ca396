// Regression: a restored file whose metadata the target could not take in full (an ACL or xattr on a
// file system without them, an owner a chown cannot give) was deleted after its content was verified,
// and only listed. A restore onto sshfs, NFSv3 or vfat gave back none of the files that had an ACL.
// Now the file is kept with what could be set, listed (exit 3), and given no more access than it had.
// Made for real: a ramfs mount (no xattrs, no ACLs) and a user namespace that maps no other owner.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, linkSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runs } from './support/runs';
import { Sandbox } from './support/sandbox';

const isRoot = process.geteuid?.() === 0;


test('a file whose ACL and xattr the target cannot hold is restored and listed, its group no wider than the ACL gave', { skip: isRoot ? false : 'mounting a ramfs needs root' }, async (t) => {
  const sandbox = await Sandbox.create();
  const target = join(sandbox.root, 'ramfs');
  mkdirSync(target);
  let isMounted = false;
  t.after(async () => {
    if (isMounted) execFileSync('umount', [target]);
    await sandbox.destroy();
  });
  const data = join(sandbox.root, 'data');
  mkdirSync(data);
  const shared = join(data, 'shared.txt');
  writeFileSync(shared, 'for user 12345, not for the group\n');
  chmodSync(shared, 0o640);
  const link = join(data, 'shared-link.txt');
  const plain = join(data, 'plain.txt');
  writeFileSync(plain, 'no attributes\n');
  // The owning group gets nothing; user 12345 gets rw, so the mask (the mode's group bits) is rw.
  if (!runs('setfacl', ['-m', 'g::---,u:12345:rw-', shared]) || !runs('setfattr', ['-n', 'user.note', '-v', 'kept', shared])) {
    t.skip('setfacl or setfattr is missing, or this file system has no ACLs or user xattrs');
    return;
  }
  assert.equal(statSync(shared).mode & 0o777, 0o660, 'the mode shows the ACL mask as its group bits');
  linkSync(shared, link);
  if (!runs('mount', ['-t', 'ramfs', 'none', target])) {
    t.skip('ramfs cannot be mounted here');
    return;
  }
  isMounted = true;

  await sandbox.startServer();
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
  const backup = await sandbox.runClient(['-c', config, '-e']);
  assert.equal(backup.code, 0, backup.stdout + backup.stderr);

  const restore = await sandbox.runClient(['-c', config, '-i', '1', '--to', target]);
  const output = restore.stdout + restore.stderr;
  assert.equal(restore.code, 3, output);
  assert.match(output, /shared(-link)?\.txt" without some of its metadata: .*xattr system\.posix_acl_access/, 'the ACL is listed');
  assert.match(output, /xattr user\.note/, 'the xattr is listed');
  assert.match(output, /group permissions narrowed to the owning group's own \(0\)/, 'the narrowing is said');
  const restored = join(target, shared);
  assert.equal(readFileSync(restored, 'utf8'), readFileSync(shared, 'utf8'), 'the file is there with its content');
  assert.equal(statSync(restored).mode & 0o777, 0o600, 'the group does not get the mask\'s rw');
  assert.equal(statSync(restored).mtimeMs, statSync(shared).mtimeMs, 'the rest of its metadata is set');
  assert.equal(readFileSync(join(target, plain), 'utf8'), 'no attributes\n');
  assert.equal(statSync(join(target, link)).ino, statSync(restored).ino, 'its hard link is made: the file is there');
});

test('a set-user-ID file whose owner cannot be given is restored without its set-ID bits; a set-group-ID folder keeps its bit where it has its group', { skip: isRoot ? false : 'giving the file away to another owner needs root' }, async (t) => {
  if (!runs('unshare', ['--user', '--map-root-user', 'true'])) {
    t.skip('user namespaces are not available here');
    return;
  }
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  const data = join(sandbox.root, 'data');
  mkdirSync(data);
  const program = join(data, 'program');
  writeFileSync(program, '#!/bin/sh\necho runs as its owner\n');
  chownSync(program, 12345, 12345);
  chmodSync(program, 0o6755);
  // A shared folder: its set-group-ID bit makes new files take its group; it runs nothing as anyone. Its
  // group (0) is the restoring user's, so it has it even though its owner cannot be given: it keeps the bit.
  const shared = join(data, 'shared');
  mkdirSync(shared);
  chownSync(shared, 12345, 0);
  chmodSync(shared, 0o2775);
  // One in a group the restore cannot give: the bit would hand the wrong group to what is made in it.
  const foreign = join(data, 'foreign');
  mkdirSync(foreign);
  chownSync(foreign, 12345, 12345);
  chmodSync(foreign, 0o2775);

  await sandbox.startServer();
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
  const backup = await sandbox.runClient(['-c', config, '-e']);
  assert.equal(backup.code, 0, backup.stdout + backup.stderr);

  // Root of a user namespace mapping only this process's own id: chown to 12345 fails with EINVAL.
  const target = join(sandbox.root, 'restored');
  const restore = await sandbox.runClient(['-c', config, '-i', '1', '--to', target], { isInUserNamespace: true });
  const output = restore.stdout + restore.stderr;
  assert.equal(restore.code, 3, output);
  assert.match(output, /program" without some of its metadata: owner: .*set-user-ID and set-group-ID bits left off/);
  const restored = join(target, program);
  assert.equal(readFileSync(restored, 'utf8'), readFileSync(program, 'utf8'), 'the file is there with its content');
  assert.equal(statSync(restored).mode & 0o7777, 0o755, 'no set-ID bit on a file owned by whoever restored it');
  assert.match(output, /shared" without some of its metadata: owner: /);
  assert.doesNotMatch(output, /shared" without some of its metadata: [^\n]*set-group-ID/);
  assert.equal(statSync(join(target, shared)).mode & 0o7777, 0o2775, 'the folder keeps its set-group-ID bit');
  assert.match(output, /foreign" without some of its metadata: owner: [^\n]*set-user-ID and set-group-ID bits left off/);
  assert.equal(statSync(join(target, foreign)).mode & 0o7777, 0o775, 'a folder in the wrong group loses it');
});
