// The symlinks on the way to a path the operator names (a --to target, an include's folder) are theirs
// to choose and are followed, except one another user may have planted: in a sticky folder anyone may
// write to (/tmp), a symlink that belongs neither to the user running cpsbackup nor to the folder's owner
// is refused (the kernel's fs.protected_symlinks rule, which Node's user-space realpath never applied).
// Restoring as root to /tmp/restore, a symlink /tmp/restore -> /etc left there by anyone sent the
// restore into /etc; an include /tmp/app/data behind a planted /tmp/app backed up what it pointed to.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, existsSync, lchownSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RestoreTree } from '../src/client/restore-tree/restore-tree';
import { walk } from '../src/client/walker';

const OTHER_UID = 65534;
const notRoot = process.getuid?.() === 0 ? false : 'a symlink of another user can only be made as root';

function workspace(t: { after: (fn: () => void) => void }): string {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'cpsbackup-target-symlinks-')));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  return root;
}

async function openedPath(target: string): Promise<string> {
  const tree = await RestoreTree.open(target);
  try {
    return tree.rootPath;
  } finally {
    tree.close();
  }
}

test('a symlink of another user in a sticky folder anyone may write to is refused, at the target and above it', { skip: notRoot }, async (t) => {
  const root = workspace(t);
  const shared = join(root, 'tmp');
  mkdirSync(shared);
  chmodSync(shared, 0o1777);
  const victim = join(root, 'etc');
  mkdirSync(victim);
  const planted = join(shared, 'restore');
  symlinkSync(victim, planted);
  lchownSync(planted, OTHER_UID, OTHER_UID);
  for (const target of [planted, `${planted}/`, join(planted, 'deeper', 'still'), join(shared, '.', 'restore', '.')]) {
    await assert.rejects(openedPath(target), new RegExp(`refusing to restore: "${planted}" is a symlink of uid ${OTHER_UID} in "${shared}"`), target);
  }
  assert.deepEqual(readdirSync(victim), [], 'nothing was made behind the planted symlink');
  // Planted deeper, behind a symlink of the operator's own: the same.
  const own = join(root, 'own-link');
  symlinkSync(shared, own);
  await assert.rejects(openedPath(join(own, 'restore', 'x')), /refusing to restore: ".*\/tmp\/restore" is a symlink of uid 65534/);
  assert.deepEqual(readdirSync(victim), []);
});

test('the symlinks the kernel would follow are followed: this user\'s, the folder owner\'s, outside sticky folders', { skip: notRoot }, async (t) => {
  const root = workspace(t);
  const victim = join(root, 'elsewhere');
  mkdirSync(victim);
  // This user's own symlink in a sticky folder.
  const shared = join(root, 'tmp');
  mkdirSync(shared);
  chmodSync(shared, 0o1777);
  symlinkSync(victim, join(shared, 'mine'));
  assert.equal(await openedPath(join(shared, 'mine', 'a')), join(victim, 'a'));
  // The folder owner's symlink in a sticky folder of theirs.
  const theirs = join(root, 'theirs');
  mkdirSync(theirs);
  chmodSync(theirs, 0o1777);
  chownSync(theirs, OTHER_UID, OTHER_UID);
  symlinkSync(victim, join(theirs, 'link'));
  lchownSync(join(theirs, 'link'), OTHER_UID, OTHER_UID);
  assert.equal(await openedPath(join(theirs, 'link', 'b')), join(victim, 'b'));
  // Another user's symlink in a folder anyone may write to that is not sticky (the kernel's rule is for sticky ones).
  const open = join(root, 'open');
  mkdirSync(open);
  chmodSync(open, 0o777);
  symlinkSync(victim, join(open, 'link'));
  lchownSync(join(open, 'link'), OTHER_UID, OTHER_UID);
  assert.equal(await openedPath(join(open, 'link', 'c')), join(victim, 'c'));
  assert.deepEqual(readdirSync(victim).sort(), ['a', 'b', 'c']);
});

test('the target is resolved as realpath resolves it: relative and absolute symlinks, chains, ".." after a symlink, loops', async (t) => {
  const root = workspace(t);
  mkdirSync(join(root, 'real', 'x', 'y'), { recursive: true });
  symlinkSync('real/x', join(root, 'rel'));
  symlinkSync(join(root, 'rel'), join(root, 'chain'));
  symlinkSync('../x/y', join(root, 'real', 'x', 'up'));
  mkdirSync(join(root, 'real', 'z'));
  symlinkSync('y/..', join(root, 'real', 'x', 'dots'));
  for (const spelled of ['rel', 'chain', 'chain/up', 'rel/dots', 'rel/up/..', 'chain/y/../y', 'real/x/dots/up']) {
    const target = join(root, spelled);
    assert.equal(await openedPath(target), realpathSync(target), spelled);
  }
  // A made folder below a symlink lands in its real folder.
  assert.equal(await openedPath(join(root, 'chain', 'up', 'new')), join(root, 'real', 'x', 'y', 'new'));
  assert.ok(existsSync(join(root, 'real', 'x', 'y', 'new')));
  symlinkSync('loop-b', join(root, 'loop-a'));
  symlinkSync('loop-a', join(root, 'loop-b'));
  await assert.rejects(openedPath(join(root, 'loop-a')), /cannot resolve the restore target ".*loop-a": ELOOP: more than 40 symlinks/);
  await assert.rejects(openedPath(join(root, 'loop-a', 'x')), /cannot look at the restore target ".*loop-a\/x": ELOOP/);
  symlinkSync(join(root, 'nowhere'), join(root, 'dangling'));
  await assert.rejects(openedPath(join(root, 'dangling', 'x')), /cannot resolve the restore target ".*dangling\/x": ENOENT/);
});

/** The paths a walk of one include records, and what it reports unreadable. */
function walked(include: string): { paths: string[]; unreadable: string[] } {
  const paths: string[] = [];
  const unreadable: string[] = [];
  for (const entry of walk({
    includes: [include], excludeRegex: [], readAllFifos: false, skipPaths: new Set(),
    onWarning: () => undefined, onUnreadable: (path, reason) => unreadable.push(`${path}: ${reason}`),
  })) paths.push(entry.meta.path.toString());
  return { paths, unreadable };
}

test('an include whose folder is reached through a planted symlink is not walked, and is reported', { skip: notRoot }, async (t) => {
  const root = workspace(t);
  const shared = join(root, 'tmp');
  mkdirSync(shared);
  chmodSync(shared, 0o1777);
  const secret = join(root, 'secret');
  mkdirSync(join(secret, 'data'), { recursive: true });
  symlinkSync(secret, join(shared, 'app'));
  lchownSync(join(shared, 'app'), OTHER_UID, OTHER_UID);
  const planted = walked(join(shared, 'app', 'data'));
  assert.deepEqual(planted.paths, [], 'nothing behind the planted symlink was walked');
  assert.equal(planted.unreadable.length, 1);
  assert.match(planted.unreadable[0], new RegExp(`its folder is reached through "${join(shared, 'app')}" is a symlink of uid ${OTHER_UID} .*: not in this backup`));
  // The operator's own symlink there is followed: the include is recorded at its real path.
  symlinkSync(secret, join(shared, 'mine'));
  assert.deepEqual(walked(join(shared, 'mine', 'data')).paths, [join(secret, 'data')]);
});
