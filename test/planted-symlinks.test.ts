// The symlinks on the way to a path the operator names (a --to target, an include's folder) are theirs
// to choose and are followed, except one someone else may have planted. A restore target (written, as
// root) follows OpenSSH's safe_path: below a folder someone other than this user and root may change,
// only a symlink of this user's or root's. An include (read) follows the kernel's fs.protected_symlinks
// rule at every depth: in a sticky folder anyone may write to, only this user's or the folder owner's.
// Node's user-space realpath applied neither: restoring as root to /tmp/restore, a symlink
// /tmp/restore -> /etc left there by anyone sent the restore into /etc; an include /tmp/app/data behind a
// planted /tmp/app backed up what it pointed to.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, existsSync, lchownSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { RestoreTree } from '../src/client/restore-tree/restore-tree';
import { walk } from '../src/client/walker';

const OTHER_UID = 65534;
const notRoot = process.getuid?.() === 0 ? false : 'a symlink of another user can only be made as root';

function workspace(t: { after: (fn: () => void) => void }): string {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'cpsbackup-target-symlinks-')));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  return root;
}

/** A folder made with this mode (0o1777: as /tmp), given to `owner` when one is named. */
function folderAt(path: string, mode: number, owner?: number): string {
  mkdirSync(path);
  chmodSync(path, mode);
  if (owner !== undefined) chownSync(path, owner, owner);
  return path;
}

/** A symlink to `target` given to `owner`. */
function symlinkOf(owner: number, target: string, path: string): void {
  symlinkSync(target, path);
  lchownSync(path, owner, owner);
}

async function openedPath(target: string): Promise<string> {
  const tree = await RestoreTree.open(target);
  try {
    return tree.rootPath;
  } finally {
    tree.close();
  }
}

test('a restore target through a symlink someone else may have planted is refused, at the target and above it', { skip: notRoot }, async (t) => {
  const root = workspace(t);
  const shared = folderAt(join(root, 'tmp'), 0o1777);
  const victim = join(root, 'etc');
  mkdirSync(victim);
  const planted = join(shared, 'restore');
  symlinkOf(OTHER_UID, victim, planted);
  for (const target of [planted, `${planted}/`, join(planted, 'deeper', 'still'), join(shared, '.', 'restore', '.')]) {
    await assert.rejects(openedPath(target), new RegExp(`refusing to restore: "${planted}" is a symlink of uid ${OTHER_UID}, and it sits in "${shared}", where someone other than this user or root may create entries`), target);
  }
  // Planted deeper, behind a symlink of the operator's own: the same.
  const own = join(root, 'own-link');
  symlinkSync(shared, own);
  await assert.rejects(openedPath(join(own, 'restore', 'x')), /refusing to restore: ".*\/tmp\/restore" is a symlink of uid 65534/);
  // One folder deeper: the user's own folder in /tmp (not sticky) holding out -> victim.
  const theirs = folderAt(join(shared, 'theirs'), 0o755, OTHER_UID);
  symlinkOf(OTHER_UID, victim, join(theirs, 'out'));
  await assert.rejects(openedPath(join(theirs, 'out', 'new')), /refusing to restore: ".*\/tmp\/theirs\/out" is a symlink of uid 65534/);
  // Their sticky folder, their symlink (the kernel's rule would follow it: the folder is the owner's).
  const sticky = folderAt(join(root, 'their-sticky'), 0o1777, OTHER_UID);
  symlinkOf(OTHER_UID, victim, join(sticky, 'out'));
  await assert.rejects(openedPath(join(sticky, 'out', 'x')), /is a symlink of uid 65534/);
  // A folder anyone may write to, not sticky.
  const open = folderAt(join(root, 'open'), 0o777);
  symlinkOf(OTHER_UID, victim, join(open, 'link'));
  await assert.rejects(openedPath(join(open, 'link', 'c')), /is a symlink of uid 65534/);
  // Root's own symlink in a user's folder: the user may have renamed it to the name typed.
  symlinkSync(victim, join(theirs, 'roots-link'));
  await assert.rejects(openedPath(join(theirs, 'roots-link', 'e')), new RegExp(`"${join(theirs, 'roots-link')}" is a symlink of uid 0, and it lies below "${shared}"`));
  // Root's folder in a folder anyone may write to (not sticky): anyone could have put another there.
  mkdirSync(join(open, 'roots'));
  symlinkOf(OTHER_UID, victim, join(open, 'roots', 'link'));
  await assert.rejects(openedPath(join(open, 'roots', 'link', 'd')), new RegExp(`it lies below "${open}", where someone other than this user or root may replace folders`));
  assert.deepEqual(readdirSync(victim), [], 'nothing was made behind a planted symlink');
});

test('the symlinks no one else could have planted are followed: this user\'s and root\'s, and any below folders only they may change', { skip: notRoot }, async (t) => {
  const root = workspace(t);
  const victim = join(root, 'elsewhere');
  mkdirSync(victim);
  // This user's own symlink in a sticky folder.
  const shared = folderAt(join(root, 'tmp'), 0o1777);
  symlinkSync(victim, join(shared, 'mine'));
  assert.equal(await openedPath(join(shared, 'mine', 'a')), join(victim, 'a'));
  // Another user's symlink below folders only root may change (a symlink root made, then gave away),
  // even below /tmp: its sticky bit keeps others from replacing this root-owned 0700 folder.
  symlinkOf(OTHER_UID, victim, join(root, 'given'));
  assert.equal(await openedPath(join(root, 'given', 'b')), join(victim, 'b'));
  assert.deepEqual(readdirSync(victim).sort(), ['a', 'b']);
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
  // A name below a file, or a link's trailing slash after one: not a folder (realpath says ENOTDIR).
  writeFileSync(join(root, 'afile'), 'x');
  symlinkSync('afile/../real', join(root, 'via-file'));
  symlinkSync('afile/', join(root, 'slash-file'));
  for (const spelled of ['via-file', 'slash-file']) {
    assert.throws(() => realpathSync.native(join(root, spelled)), /ENOTDIR/, spelled);
    await assert.rejects(openedPath(join(root, spelled, 'new')), new RegExp(`"${join(root, 'afile')}" \\(where "${join(root, spelled)}" leads\\) exists and is not a folder`), spelled);
  }
  assert.ok(!existsSync(join(root, 'real', 'new')));
  // A link to a file: the file is named, and the link typed.
  symlinkSync('afile', join(root, 'to-file'));
  await assert.rejects(openedPath(join(root, 'to-file')), new RegExp(`"${join(root, 'afile')}" \\(where "${join(root, 'to-file')}" leads\\) exists and is not a folder`));
  symlinkSync('loop-b', join(root, 'loop-a'));
  symlinkSync('loop-a', join(root, 'loop-b'));
  await assert.rejects(openedPath(join(root, 'loop-a')), /cannot resolve the restore target ".*loop-a": ELOOP: more than 40 symlinks/);
  await assert.rejects(openedPath(join(root, 'loop-a', 'x')), /cannot look at the restore target ".*loop-a\/x": ELOOP/);
  // A dangling link on the way is named with what it points to (it said only ENOENT of "nowhere"), at any
  // depth of a chain of links, absolute or relative.
  symlinkSync(join(root, 'nowhere'), join(root, 'dangling'));
  await assert.rejects(openedPath(join(root, 'dangling', 'x')), { message: `cannot resolve the restore target "${join(root, 'dangling', 'x')}": `
    + `ENOENT: "${join(root, 'nowhere')}" does not exist (reached through the symlink "${join(root, 'dangling')}" -> "${join(root, 'nowhere')}")` });
  symlinkSync('real/x/gone/deeper', join(root, 'dangling-relative'));
  symlinkSync('dangling-relative', join(root, 'to-dangling'));
  await assert.rejects(openedPath(join(root, 'to-dangling', 'x')), { message: `cannot resolve the restore target "${join(root, 'to-dangling', 'x')}": `
    + `ENOENT: "${join(root, 'real', 'x', 'gone')}" does not exist (reached through the symlink "${join(root, 'dangling-relative')}" -> "real/x/gone/deeper")` });
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
  const shared = folderAt(join(root, 'tmp'), 0o1777);
  const secret = join(root, 'secret');
  mkdirSync(join(secret, 'data'), { recursive: true });
  symlinkOf(OTHER_UID, secret, join(shared, 'app'));
  const planted = walked(join(shared, 'app', 'data'));
  assert.deepEqual(planted.paths, [], 'nothing behind the planted symlink was walked');
  assert.equal(planted.unreadable.length, 1);
  assert.match(planted.unreadable[0], new RegExp(`its folder is reached through "${join(shared, 'app')}" is a symlink of uid ${OTHER_UID}, .*: not in this backup`));
  // The operator's own symlink there is followed: the include is recorded at its real path.
  symlinkSync(secret, join(shared, 'mine'));
  assert.deepEqual(walked(join(shared, 'mine', 'data')).paths, [join(secret, 'data')]);
  // Reading follows what the kernel would: a deploy user's `current -> releases/5` in their own folder.
  const app = join(root, 'app');
  mkdirSync(join(app, 'releases', '5', 'uploads'), { recursive: true });
  chownSync(app, OTHER_UID, OTHER_UID);
  symlinkOf(OTHER_UID, 'releases/5', join(app, 'current'));
  assert.deepEqual(walked(join(app, 'current', 'uploads')).paths, [join(app, 'releases', '5', 'uploads')]);
});

/** The system's own: run as another user, a python3 found on root's PATH (pyenv's shims) may not be reachable. */
const SYSTEM_PYTHON = '/usr/bin/python3';
const noSystemPython = existsSync(SYSTEM_PYTHON) ? false : `${SYSTEM_PYTHON} is needed to call renameat2 as another user`;

/** Exchanges two names as fast as it can (renameat2 RENAME_EXCHANGE) as `uid`, until the stop file or 60 s. */
const EXCHANGER = `
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
first, second, stop = (name.encode() for name in sys.argv[1:4])
deadline = time.time() + 60
if libc.renameat2(-100, first, -100, second, 2) != 0:
    sys.exit('renameat2: ' + os.strerror(ctypes.get_errno()))
print('exchanging', flush=True)
while not os.path.exists(stop) and time.time() < deadline:
    libc.renameat2(-100, first, -100, second, 2)
`;

/**
 * Starts the exchanger as the other user on two paths of theirs, once it has exchanged them a first time
 * (the openings that follow must race it); the function it returns stops it and waits for it.
 */
async function startExchanger(t: { after: (fn: () => void) => void }, first: string, second: string): Promise<() => Promise<void>> {
  const stop = `${dirname(first)}.stop-exchanging`;
  const exchanger = spawn('setpriv', ['--reuid', String(OTHER_UID), '--regid', String(OTHER_UID), '--clear-groups',
    SYSTEM_PYTHON, '-c', EXCHANGER, first, second, stop], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = once(exchanger, 'exit');
  t.after(() => exchanger.kill('SIGKILL'));
  const [started] = await Promise.race([once(exchanger.stdout!, 'data'), exited]) as [Buffer | number];
  assert.match(String(started), /exchanging/, 'the exchanger did not start');
  return async () => {
    writeFileSync(stop, '');
    await exited;
  };
}

// Walked by path, the resolver judged one entry and read another: a user exchanging a folder of theirs
// with a symlink to /proc/1 made it see /proc/1/root (root's) when it judged "a/root", and read their own
// "a/root -> victim" when it followed it (found by the second review: a root restore landed in the victim).
test('a user exchanging folders on the way while the target is resolved never steers the restore', { skip: notRoot || noSystemPython }, async (t) => {
  const root = workspace(t);
  chmodSync(root, 0o755);
  const victim = folderAt(join(root, 'victim'), 0o700);
  const theirs = folderAt(join(root, 'theirs'), 0o755, OTHER_UID);
  folderAt(join(theirs, 'a'), 0o755, OTHER_UID);
  symlinkOf(OTHER_UID, victim, join(theirs, 'a', 'root'));
  symlinkOf(OTHER_UID, '/proc/1', join(theirs, 'a_alt'));
  const stopExchanging = await startExchanger(t, join(theirs, 'a'), join(theirs, 'a_alt'));
  let landed = 0;
  const refusals = new Map<string, number>();
  try {
    for (let index = 0; index < 5000; index++) {
      let tree: RestoreTree;
      try {
        tree = await RestoreTree.open(join(theirs, 'a', 'root'));
      } catch (error) {
        const kind = (error as { reason?: string }).reason ?? (error as Error).message.slice(0, 40);
        refusals.set(kind, (refusals.get(kind) ?? 0) + 1);
        continue;
      }
      tree.makeFolder('/landed');
      tree.close();
      landed++;
    }
  } finally {
    await stopExchanging();
  }
  assert.equal(landed, 0, `${landed} restores opened a target (${readdirSync(victim).length > 0 ? 'in the victim' : 'elsewhere'})`);
  assert.deepEqual(readdirSync(victim), []);
  assert.ok(refusals.size > 0 && [...refusals.keys()].every((kind) => kind === 'UNTRUSTED_SYMLINK'), JSON.stringify([...refusals]));
});

// ".." after a user's folder went to the parent of wherever that folder was by then (openat(fd, "..")),
// while the path said the folder spelled: a user moving theirs made the restore's fd and its path name
// two folders (found by the third review: 61 % of openings). ".." now goes back to the folder held before.
test('".." in a symlink\'s target goes back the way it came, whatever a user moves meanwhile', { skip: notRoot || noSystemPython }, async (t) => {
  const root = workspace(t);
  chmodSync(root, 0o755);
  const home = folderAt(join(root, 'home'), 0o755);
  const alice = folderAt(join(home, 'alice'), 0o755, OTHER_UID);
  folderAt(join(alice, 'd'), 0o755, OTHER_UID);
  mkdirSync(join(alice, 'deep', 'deeper', 'e'), { recursive: true });
  chownSync(join(alice, 'deep'), OTHER_UID, OTHER_UID);
  chownSync(join(alice, 'deep', 'deeper'), OTHER_UID, OTHER_UID);
  chownSync(join(alice, 'deep', 'deeper', 'e'), OTHER_UID, OTHER_UID);
  folderAt(join(root, 'srv'), 0o755);
  symlinkSync('../home/alice/d/../..', join(root, 'srv', 'link'));
  const stopExchanging = await startExchanger(t, join(alice, 'd'), join(alice, 'deep', 'deeper', 'e'));
  let elsewhere = 0;
  try {
    for (let index = 0; index < 2000; index++) {
      const tree = await RestoreTree.open(join(root, 'srv', 'link'));
      assert.equal(tree.rootPath, home);
      tree.makeFolder('/landed');
      tree.close();
      if (existsSync(join(home, 'landed'))) rmSync(join(home, 'landed'), { recursive: true });
      else elsewhere++;
    }
  } finally {
    await stopExchanging();
  }
  assert.equal(elsewhere, 0, `${elsewhere} of 2000 restores said ${home} and wrote elsewhere`);
});

// Read as a string, a target that is not UTF-8 became another name (\xff read as U+FFFD), one a user may
// have made in a folder anyone may write to: root's restore landed in it (found by the fourth review).
test('a symlink whose target is not UTF-8 is refused, not read as another name', { skip: notRoot }, async (t) => {
  const root = workspace(t);
  const shared = folderAt(join(root, 'pub'), 0o1777);
  const meant = Buffer.concat([Buffer.from(`${shared}/`), Buffer.from([0xff]), Buffer.from('real')]);
  mkdirSync(meant, { mode: 0o700 });
  // What the lossy reading named instead, made by the other user.
  folderAt(join(shared, '\uFFFDreal'), 0o755, OTHER_UID);
  symlinkSync(meant, join(root, 'link'));
  await assert.rejects(openedPath(join(root, 'link')), /the symlink ".*\/link" points to ".*\\xffreal", which is not UTF-8: not followed/);
});
