// A restore target that cannot be made is named with the real cause: Node's recursive mkdir said
// "ENOENT: no such file or directory" of a target on a read-only mount, and "EEXIST" of a file in the way.
// Each missing folder is now made with its own mkdirat, which says the cause itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RestoreTree } from '../src/client/restore-tree/restore-tree';

const notRoot = process.getuid?.() === 0 ? false : 'mounting a read-only tmpfs needs root';

test('a file where the target should be is "exists and is not a folder", not EEXIST of a mkdir', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'cpsbackup-target-errors-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  writeFileSync(join(root, 'a-file'), 'x');
  // The message is about the target typed: it said `cannot restore "/":` (the root entry's path).
  await assert.rejects(RestoreTree.open(join(root, 'a-file')), { message: `cannot restore to "${join(root, 'a-file')}": "${join(root, 'a-file')}" exists and is not a folder` });
  // A file above the target: named, not a claim that the target exists.
  await assert.rejects(RestoreTree.open(join(root, 'a-file', 'below')),
    { message: `cannot restore to "${join(root, 'a-file', 'below')}": "${join(root, 'a-file')}" exists and is not a folder` });
});

test('a target on a read-only file system says EROFS', { skip: notRoot }, async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'cpsbackup-target-errors-'));
  const mount = join(root, 'ro');
  mkdirSync(mount);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', mount]);
  t.after(() => {
    execFileSync('umount', [mount]);
    rmSync(root, { recursive: true, force: true });
  });
  await assert.rejects(RestoreTree.open(join(mount, 'target')), /cannot create the restore target ".*ro\/target": EROFS: read-only file system/i);
  await assert.rejects(RestoreTree.open(join(mount, 'deeper', 'target')), /EROFS: read-only file system/i);
});
