// Proves the tree comparer itself: a copy made with the restore tree's own operations (and one made by
// cp -a) matches the fidelity tree, and each kind of alteration of the copy is reported as a difference.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, writeSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chownAt, openAt, openFolderAt, posixConstants, renameAt, statAt, symlinkAt, unlinkAt } from '../src/client/posix/at';
import { escapeBytes } from '../src/common/escape-bytes';
import { makeDeviceAt } from '../src/client/posix/special-files';
import { setTimesAt } from '../src/client/posix/times';
import { ACL_ACCESS, removeXattr } from '../src/client/posix/xattrs';
import { RestoreTree } from '../src/client/restore-tree/restore-tree';
import { type DifferenceKind, type TreeDifference, compareTrees, formatDifferences } from './support/tree-compare';
import { type FidelityTree, buildFidelityTree } from './support/fidelity-tree';
import { removeTree } from './support/remove-tree';
import { copyWithRestoreTree } from './support/tree-copy';

let workspace: string;
let fidelity: FidelityTree;

before(async () => {
  workspace = await mkdtemp(join(tmpdir(), 'cpsbackup-compare-'));
  fidelity = await buildFidelityTree(join(workspace, 'source'));
});

after(async () => {
  removeTree(workspace);
});

async function restoreTreeCopy(name: string): Promise<string> {
  const tree = await RestoreTree.open(join(workspace, name));
  try {
    const report = await copyWithRestoreTree(fidelity.root, tree);
    if (report.warnings.length > 0) console.log(`copy warnings (expected only without root):\n${report.warnings.join('\n')}`);
    if (fidelity.isRoot) assert.deepEqual(report.warnings, [], 'as root every part of the tree is copied');
  } finally {
    tree.close();
  }
  return join(workspace, name);
}

/** Runs fn on the copy's folder at relativeFolder (fd-relative: works below 4096-byte paths too). */
function inFolder<T>(copy: string, relativeFolder: string, fn: (folderFd: number) => T): T {
  let fd = openFolderAt(posixConstants().AT_FDCWD, copy);
  for (const component of relativeFolder.split('/').filter((part) => part.length > 0)) {
    const next = openFolderAt(fd, component);
    closeSync(fd);
    fd = next;
  }
  try {
    return fn(fd);
  } finally {
    closeSync(fd);
  }
}

function assertReported(differences: readonly TreeDifference[], kind: DifferenceKind, path: string): void {
  assert.ok(
    differences.some((difference) => difference.kind === kind && difference.path === path),
    `expected a ${kind} difference at ${path}, got:\n${formatDifferences(differences)}`,
  );
}

test('a copy made with the restore tree matches the fidelity tree in every respect', async () => {
  const copy = await restoreTreeCopy('identical');
  const differences = await compareTrees(fidelity.root, copy);
  assert.equal(formatDifferences(differences), '');
});

test('a cp -a copy matches too (the reference copier agrees with the comparer)', async () => {
  // cp -a (like GNU tar) cannot reach a path longer than PATH_MAX: this tree leaves that chain out.
  console.log('cp -a reference: the tree is built without the chain longer than 4096 bytes, which cp cannot copy');
  const source = (await buildFidelityTree(join(workspace, 'cp-source'), { withLongPath: false })).root;
  const copy = join(workspace, 'cp-a');
  execFileSync('cp', ['-a', '--sparse=always', source, copy]);
  const differences = await compareTrees(source, copy);
  // cp -a keeps everything the comparer checks; a difference here would be the comparer's bug.
  assert.equal(formatDifferences(differences), '');
});

test('each kind of alteration of the copy is reported', async () => {
  const copy = await restoreTreeCopy('altered');
  const longFolder = `long/${fidelity.longChain.map((name) => name.toString()).join('/')}`;
  const alterations: { kind: DifferenceKind; path: string; alter: () => void; rootOnly?: string }[] = [
    {
      kind: 'xattr',
      path: 'xattrs/plain',
      alter: () => inFolder(copy, 'xattrs', (fd) => removeXattr({ dirfd: fd, name: 'plain' }, 'user.comment')),
    },
    {
      kind: 'acl',
      path: 'acls/access-acl',
      alter: () => inFolder(copy, 'acls', (fd) => removeXattr({ dirfd: fd, name: 'access-acl' }, ACL_ACCESS)),
    },
    {
      // Same content, own inode: only the link group and the counts tell.
      kind: 'hardlink',
      path: 'links/hundred/link-050',
      alter: () => {
        unlinkAt(posixConstants().AT_FDCWD, join(copy, 'links/hundred/link-050'));
        execFileSync('cp', ['-p', join(copy, 'links/hundred/original'), join(copy, 'links/hundred/link-050')]);
      },
    },
    {
      // Zeros written over a MiB of hole: the same content, more blocks.
      kind: 'blocks',
      path: 'sparse/two-gib',
      alter: () => rewriteKeepingMtime(copy, 'sparse', 'two-gib', Buffer.alloc(1024 * 1024), 512 * 1024 * 1024),
    },
    {
      // Invalid bytes replaced by U+FFFD, as a tool decoding names to strings would: one name gone, one new.
      kind: 'missing',
      path: `names/${escapeBytes(fidelity.invalidUtf8Names[0])}`,
      alter: () =>
        inFolder(copy, 'names', (fd) =>
          renameAt(fd, fidelity.invalidUtf8Names[0], fd, Buffer.from(fidelity.invalidUtf8Names[0].toString('utf8'))),
        ),
    },
    { kind: 'extra', path: 'names/bad\uFFFD\uFFFD.txt', alter: () => undefined },
    { kind: 'mode', path: 'modes/setgid', alter: () => execFileSync('chmod', ['g-s', join(copy, 'modes/setgid')]) },
    {
      kind: 'mtime',
      path: 'content/hello.txt',
      alter: () => inFolder(copy, 'content', (fd) => setTimesAt(fd, 'hello.txt', { mtimeNs: statAt(fd, 'hello.txt').mtimeNs + 1n })),
    },
    {
      kind: 'owner',
      path: 'content/empty',
      rootOnly: 'chown to another user needs root',
      alter: () => inFolder(copy, 'content', (fd) => chownAt(fd, 'empty', 4242, 4242)),
    },
    {
      kind: 'rdev',
      path: 'devices/char-240-7',
      rootOnly: 'devices need root',
      alter: () =>
        inFolder(copy, 'devices', (fd) => {
          unlinkAt(fd, 'char-240-7');
          makeDeviceAt(fd, 'char-240-7', 'char', { major: 240, minor: 8 }, 0o620);
        }),
    },
    {
      kind: 'symlink',
      path: 'symlinks/relative',
      alter: () =>
        inFolder(copy, 'symlinks', (fd) => {
          const { mtimeNs } = statAt(fd, 'relative');
          unlinkAt(fd, 'relative');
          symlinkAt('../xattrs/plaiN', fd, 'relative');
          setTimesAt(fd, 'relative', { mtimeNs });
        }),
    },
    {
      kind: 'content',
      path: 'content/patterned.bin',
      alter: () => rewriteKeepingMtime(copy, 'content', 'patterned.bin', Buffer.from('X'), 123_457),
    },
    {
      // Beyond PATH_MAX: only fd-relative walking reaches it, in the copy and in the comparer.
      kind: 'content',
      path: `${longFolder}/deep-file`,
      alter: () => rewriteKeepingMtime(copy, longFolder, 'deep-file', Buffer.from('B'), 0),
    },
  ];
  const applied = alterations.filter((alteration) => {
    if (alteration.rootOnly === undefined || fidelity.isRoot) return true;
    console.log(`not altering ${alteration.path} (${alteration.kind}): ${alteration.rootOnly}`);
    return false;
  });
  for (const alteration of applied) alteration.alter();
  const differences = await compareTrees(fidelity.root, copy);
  for (const alteration of applied) assertReported(differences, alteration.kind, alteration.path);
  // Nothing but what was altered (and the folders whose mtime the alterations touched) is reported.
  // A broken link changes the group of every other name of that inode too.
  const alteredPaths = new Set(applied.map((alteration) => alteration.path));
  for (const difference of differences) {
    const isAlteredFolderTime = difference.kind === 'mtime' && applied.some((alteration) => alteration.path.startsWith(`${difference.path}/`));
    const isSameLinkGroup = difference.kind === 'hardlink' && difference.path.startsWith('links/hundred/');
    assert.ok(
      alteredPaths.has(difference.path) || isAlteredFolderTime || isSameLinkGroup,
      `unexpected difference ${formatDifferences([difference]).slice(0, 300)}`,
    );
  }
});

/** Writes bytes at position of folder/name (fd-relative) and puts its mtime back, so only the intended kind changes. */
function rewriteKeepingMtime(copy: string, folder: string, name: string, bytes: Buffer, position: number): void {
  inFolder(copy, folder, (fd) => {
    const { mtimeNs } = statAt(fd, name);
    const { O_WRONLY, O_NOFOLLOW } = posixConstants();
    const file = openAt(fd, name, O_WRONLY | O_NOFOLLOW);
    try {
      writeSync(file, bytes, 0, bytes.length, position);
    } finally {
      closeSync(file);
    }
    setTimesAt(fd, name, { mtimeNs });
  });
}
