// Proves the restore tree never writes through a symlink (issue 13, "Restore target"): the target in
// every spelling, symlinks at several depths pointing outside and inside, links this restore made, a
// folder swapped for a symlink between operations, original-path restores, paths past 4096 bytes.
import assert from 'node:assert/strict';
import { closeSync, writeSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, realpath, rename, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import { statAt } from '../src/client/posix/at';
import { SymlinkInPathError, UnsafeEntryPathError } from '../src/client/restore-tree/errors';
import { RestoreTree } from '../src/client/restore-tree/restore-tree';
import { removeTree } from './support/remove-tree';

let workspace: string;
let outside: string;

before(async () => {
  workspace = await realpath(await mkdtemp(join(tmpdir(), 'cpsbackup-symlinks-')));
  outside = join(workspace, 'outside');
  await mkdir(outside);
  await writeFile(join(outside, 'victim'), 'must stay untouched\n');
});

after(() => removeTree(workspace));

async function assertOutsideUntouched(): Promise<void> {
  assert.deepEqual((await readdir(outside)).sort(), ['victim']);
  assert.equal(await readFile(join(outside, 'victim'), 'utf8'), 'must stay untouched\n');
}

/** Every operation a restorer performs on an entry at path; each must be refused when path crosses a symlink. */
function everyOperation(tree: RestoreTree, path: string): [string, () => unknown][] {
  return [
    ['createFile', () => tree.createFile(path)],
    ['makeFolder', () => tree.makeFolder(path)],
    ['makeSymlink', () => tree.makeSymlink(path, 'anything')],
    ['makeFifo', () => tree.makeFifo(path)],
    ['makeSocket', () => tree.makeSocket(path)],
    ['makeHardLink (new end)', () => tree.makeHardLink('/inside-file', path)],
    ['makeHardLink (old end)', () => tree.makeHardLink(path, '/link-to-outside')],
    ['setMetadata', () => tree.setMetadata(path, { mode: 0o777, mtimeNs: 0n })],
    ['stat', () => tree.stat(path)],
    ['openExistingFile', () => tree.openExistingFile(path)],
    ['remove', () => tree.remove(path)],
  ];
}

function assertAllRefused(tree: RestoreTree, path: string, symlinkPath: string): void {
  for (const [name, operation] of everyOperation(tree, path)) {
    assert.throws(operation, (error: unknown) => {
      assert.ok(error instanceof SymlinkInPathError, `${name} on ${path}: expected SymlinkInPathError, got ${String(error)}`);
      assert.equal(error.symlinkPath, symlinkPath, `${name} names the symlink`);
      assert.ok(error.message.includes(path), `${name}'s message names the entry: ${error.message}`);
      return true;
    });
  }
}

test('the target in every spelling is one canonical folder, and a symlink inside it is never written through', async () => {
  const parent = join(workspace, 'spellings');
  const target = join(parent, 'DIR');
  await mkdir(join(parent, 'x'), { recursive: true });
  await mkdir(target);
  await symlink(outside, join(target, 'escape'));
  await symlink(target, join(parent, 'link-to-DIR'));
  const spellings = [
    target,
    `${target}/`,
    `${target}/.`,
    `${target}/./`,
    join(parent, 'x') + '/../DIR',
    `./${relative(process.cwd(), target)}/`,
    relative(process.cwd(), target),
    join(parent, 'link-to-DIR'), // the operator's own symlink to the target: resolved once, then held
  ];
  for (const spelling of spellings) {
    const tree = await RestoreTree.open(spelling);
    try {
      assert.equal(tree.rootPath, target, `"${spelling}" resolves to the target`);
      assertAllRefused(tree, '/escape/file', `${target}/escape`);
      assertAllRefused(tree, '/escape/deeper/file', `${target}/escape`);
    } finally {
      tree.close();
    }
  }
  await assertOutsideUntouched();
});

test('a missing target is created (every spelling), and "x/../DIR" does not create x', async () => {
  const parent = join(workspace, 'created');
  await mkdir(parent);
  const tree = await RestoreTree.open(join(parent, 'nothing') + '/../new/deep/');
  try {
    assert.equal(tree.rootPath, join(parent, 'new', 'deep'));
    assert.deepEqual((await readdir(parent)).sort(), ['new']);
  } finally {
    tree.close();
  }
});

test('symlinks at several depths, pointing outside or inside the root, and one made by this restore, are all refused', async () => {
  const root = join(workspace, 'depths');
  await mkdir(join(root, 'real', 'sub'), { recursive: true });
  await mkdir(join(root, 'b', 'c'), { recursive: true });
  await writeFile(join(root, 'inside-file'), 'inside\n');
  await symlink(outside, join(root, 'a')); // depth 1, outside
  await symlink(outside, join(root, 'b', 'c', 'd')); // depth 3, outside
  await symlink('../real', join(root, 'b', 'inside')); // depth 2, inside the root: still refused
  await symlink(join(root, 'real'), join(root, 'b', 'c', 'absolute-inside'));
  const tree = await RestoreTree.open(root);
  try {
    assertAllRefused(tree, '/a/file', `${root}/a`);
    assertAllRefused(tree, '/b/c/d/file', `${root}/b/c/d`);
    assertAllRefused(tree, '/b/c/d/e/f/file', `${root}/b/c/d`);
    assertAllRefused(tree, '/b/inside/sub/file', `${root}/b/inside`);
    assertAllRefused(tree, '/b/c/absolute-inside/file', `${root}/b/c/absolute-inside`);
    tree.makeSymlink('/made-here', outside);
    assertAllRefused(tree, '/made-here/file', `${root}/made-here`);
    tree.makeFolder('/new/folder');
    tree.makeSymlink('/new/folder/made-deeper', '../../../outside');
    assertAllRefused(tree, '/new/folder/made-deeper/file', `${root}/new/folder/made-deeper`);
    // The last component being a symlink: a folder there is refused, a file replaces the link itself.
    assert.throws(() => tree.makeFolder('/a'), SymlinkInPathError);
    const file = tree.createFile('/a');
    writeSync(file.fd, 'replaces the link, not its target\n');
    assert.throws(() => file.commit(), /EEXIST/);
    file.commit({ replace: true });
    assert.equal(await readFile(join(root, 'a'), 'utf8'), 'replaces the link, not its target\n');
  } finally {
    tree.close();
  }
  await assertOutsideUntouched();
  assert.deepEqual(await readdir(join(root, 'real', 'sub')), []);
});

test('metadata of a symlink entry is set on the link itself, never on its target', async () => {
  const root = join(workspace, 'link-metadata');
  await mkdir(root);
  const tree = await RestoreTree.open(root);
  try {
    tree.makeSymlink('/to-victim', join(outside, 'victim'));
    const before = await (await import('node:fs/promises')).stat(join(outside, 'victim'));
    tree.setMetadata('/to-victim', { mode: 0o777, mtimeNs: 1_000_000_123n, owner: { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 } });
    const after = await (await import('node:fs/promises')).stat(join(outside, 'victim'));
    assert.equal(after.mode, before.mode);
    assert.equal(after.mtimeMs, before.mtimeMs);
    assert.equal(tree.stat('/to-victim')?.mtimeNs, 1_000_000_123n);
  } finally {
    tree.close();
  }
  await assertOutsideUntouched();
});

test('a folder swapped for a symlink between two operations never redirects a write', async () => {
  const root = join(workspace, 'swap');
  await mkdir(root);
  const tree = await RestoreTree.open(root, { maxCachedFolders: 2 });
  try {
    tree.makeFolder('/swap');
    const first = tree.createFile('/swap/one');
    first.commit();
    const pending = tree.createFile('/swap/pending');
    // The attacker moves the verified folder away and puts a symlink to the outside in its place.
    await rename(join(root, 'swap'), join(root, 'moved'));
    await symlink(outside, join(root, 'swap'));
    // A write through the held fd lands in the folder that was verified (now "moved"), never outside.
    const second = tree.createFile('/swap/two');
    second.commit();
    pending.commit();
    assert.deepEqual((await readdir(join(root, 'moved'))).sort(), ['one', 'pending', 'two']);
    // Once the cached fd is evicted, the walk opens "swap" again, finds the symlink and refuses.
    for (const folder of ['/f1', '/f2', '/f3', '/f4']) tree.createFile(`${folder}/x`).commit();
    assert.throws(() => tree.createFile('/swap/three'), SymlinkInPathError);
  } finally {
    tree.close();
  }
  await assertOutsideUntouched();
});

test('original-path restores ("/" as the root) refuse a symlinked ancestor of an include', async () => {
  // issue 13: include = X/a/p/src, then X/a/p replaced by a symlink: the files must not land elsewhere.
  const system = join(workspace, 'system');
  await mkdir(join(system, 'X', 'a'), { recursive: true });
  await symlink(outside, join(system, 'X', 'a', 'p'));
  const entry = `${system}/X/a/p/src/file`;
  const tree = await RestoreTree.open('/');
  try {
    assert.equal(tree.rootPath, '/');
    assertAllRefused(tree, entry, `${system}/X/a/p`);
    const fine = tree.createFile(`${system}/X/a/real/src/file`);
    fine.commit();
    assert.ok(tree.stat(`${system}/X/a/real/src/file`));
  } finally {
    tree.close();
  }
  // The same, with an absolute path below a temp folder standing for "/".
  const simulated = await RestoreTree.open(system);
  try {
    assertAllRefused(simulated, '/X/a/p/src/file', `${system}/X/a/p`);
  } finally {
    simulated.close();
  }
  await assertOutsideUntouched();
});

test('paths longer than 4096 bytes work, and a symlink deep in them is still refused', async () => {
  const root = join(workspace, 'long');
  await mkdir(root);
  const components = Array.from({ length: 24 }, (_, index) => `${String(index).padStart(2, '0')}-${'x'.repeat(240)}`);
  const deep = `/${components.join('/')}`;
  assert.ok(Buffer.byteLength(deep) > 4096);
  const tree = await RestoreTree.open(root);
  try {
    tree.makeFolder(deep);
    const file = tree.createFile(`${deep}/file`);
    writeSync(file.fd, 'deep\n');
    file.setMetadata({ mode: 0o640, mtimeNs: 1_234_567_890_123_456_789n });
    file.commit();
    tree.makeSymlink(`${deep}/link`, 'file');
    tree.makeHardLink(`${deep}/file`, `${deep}/hard`);
    tree.makeHardLink(`${deep}/file`, '/shallow-hard');
    tree.makeFifo(`${deep}/fifo`);
    const stats = tree.stat(`${deep}/file`);
    assert.equal(stats?.nlink, 3);
    assert.equal(stats?.mtimeNs, 1_234_567_890_123_456_789n);
    assert.equal(stats?.mode && stats.mode & 0o7777, 0o640);
    const fd = tree.openExistingFile(`${deep}/hard`) as number;
    const buffer = Buffer.alloc(16);
    const { readSync } = await import('node:fs');
    assert.equal(buffer.subarray(0, readSync(fd, buffer, 0, 16, 0)).toString(), 'deep\n');
    closeSync(fd);
    // A symlink at component 15 of that long path.
    const upTo15 = `/${components.slice(0, 15).join('/')}`;
    tree.makeSymlink(`${upTo15}/trap`, outside);
    assertAllRefused(tree, `${upTo15}/trap/${components.slice(15).join('/')}/file`, `${root}${upTo15}/trap`);
  } finally {
    tree.close();
  }
  await assertOutsideUntouched();
});

test('hard link ends outside the root are refused: through a symlink, or spelled with ".."', async () => {
  const root = join(workspace, 'hardlinks');
  await mkdir(root);
  await symlink(outside, join(root, 'escape'));
  await writeFile(join(root, 'inside-file'), 'inside\n');
  const tree = await RestoreTree.open(root);
  try {
    assert.throws(() => tree.makeHardLink('/escape/victim', '/stolen'), SymlinkInPathError);
    assert.throws(() => tree.makeHardLink('/inside-file', '/escape/planted'), SymlinkInPathError);
    for (const [existing, created] of [
      ['/../outside/victim', '/stolen'],
      ['/inside-file', '/../outside/planted'],
      ['/a/../../outside/victim', '/stolen'],
      ['/inside-file', '/./planted'],
      ['outside/victim', '/stolen'],
    ]) {
      assert.throws(() => tree.makeHardLink(existing, created), UnsafeEntryPathError, `${existing} -> ${created}`);
    }
    const statsOfVictim = statAt(-100, join(outside, 'victim'));
    assert.equal(statsOfVictim.nlink, 1, 'no link to the outside file was made');
  } finally {
    tree.close();
  }
  await assertOutsideUntouched();
});

test('unsafe entry paths are refused by every operation', async () => {
  const root = join(workspace, 'unsafe');
  await mkdir(root);
  const tree = await RestoreTree.open(root);
  try {
    for (const path of ['', 'relative', '/a/../b', '/a/./b', '/..', '/.', '/a//b', '/a/', Buffer.from('/a\0b')]) {
      for (const [name, operation] of everyOperation(tree, path as string)) {
        assert.throws(operation, UnsafeEntryPathError, `${name} on ${JSON.stringify(path.toString())}`);
      }
    }
  } finally {
    tree.close();
  }
  assert.deepEqual(await readdir(root), []);
});
