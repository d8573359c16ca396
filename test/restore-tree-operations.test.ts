// Proves what a restorer may rely on from the restore tree: files written without a name then named, metadata in
// an order that keeps setuid and ACLs, owners by name like tar, special files, holes, a bounded fd cache.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, fstatSync, readdirSync, readSync, writeSync } from 'node:fs';
import { mkdtemp, readdir, readFile, realpath } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, test } from 'node:test';
import { entryKind } from '../src/client/posix/at';
import { dataExtents } from '../src/client/posix/data-extents';
import { splitDeviceNumber } from '../src/client/posix/special-files';
import { ACL_ACCESS, ACL_DEFAULT, getXattr, listXattrs } from '../src/client/posix/xattrs';
import { MetadataError, NeedsRootError, RestoreSystemError } from '../src/client/restore-tree/errors';
import { createExtentWriter } from '../src/client/restore-tree/extent-writer';
import { RestoreTree } from '../src/client/restore-tree/restore-tree';
import { removeTree } from './support/remove-tree';

const isRoot = process.geteuid?.() === 0;
let workspace: string;

before(async () => {
  workspace = await realpath(await mkdtemp(join(tmpdir(), 'cpsbackup-restore-ops-')));
});

after(() => removeTree(workspace));

async function openTree(name: string, options = {}): Promise<RestoreTree> {
  return RestoreTree.open(join(workspace, name), options);
}

/**
 * Writes a file, gives it metadata, names it, refuses and then replaces an existing entry, and aborts one;
 * `inFolder` checks what the folder holds while the file is being written.
 */
async function writeNameReplaceAbort(tree: RestoreTree, inFolder: (names: string[]) => void): Promise<void> {
  const file = tree.createFile('/folder/data.txt');
  assert.equal(tree.stat('/folder/data.txt'), undefined, 'nothing at the final name before commit');
  inFolder(readdirSync(join(tree.rootPath, 'folder')));
  assert.equal(fstatSync(file.fd).mode & 0o777, 0o600, 'files being written are private');
  writeSync(file.fd, 'content\n');
  file.setMetadata({ mode: 0o4755, mtimeNs: 1_600_000_000_123_456_789n, atimeNs: 1_600_000_001_000_000_001n, xattrs: [{ name: 'user.k', value: Buffer.from([0, 1, 2]) }] });
  file.commit();
  assert.deepEqual(readdirSync(join(tree.rootPath, 'folder')), ['data.txt']);
  const stats = tree.stat('/folder/data.txt');
  assert.equal((stats?.mode ?? 0) & 0o7777, 0o4755);
  assert.equal(stats?.mtimeNs, 1_600_000_000_123_456_789n);
  assert.equal(stats?.atimeNs, 1_600_000_001_000_000_001n);
  assert.equal(stats?.nlink, 1);
  assert.deepEqual(getXattr({ path: join(tree.rootPath, 'folder/data.txt') }, 'user.k'), Buffer.from([0, 1, 2]));
  assert.equal(await readFile(join(tree.rootPath, 'folder/data.txt'), 'utf8'), 'content\n');

  // An existing entry is kept unless replace is asked; abort leaves nothing behind.
  const again = tree.createFile('/folder/data.txt');
  writeSync(again.fd, 'newer\n');
  assert.throws(() => again.commit(), (error: unknown) => error instanceof RestoreSystemError && error.systemCode === 'EEXIST');
  again.commit({ replace: true });
  assert.equal(await readFile(join(tree.rootPath, 'folder/data.txt'), 'utf8'), 'newer\n');
  assert.deepEqual(readdirSync(join(tree.rootPath, 'folder')), ['data.txt']);
  const dropped = tree.createFile('/folder/dropped');
  dropped.abort();
  dropped.abort();
  assert.deepEqual(readdirSync(join(tree.rootPath, 'folder')), ['data.txt']);
}

// A file made without a name (O_TMPFILE): a restore killed while writing it (SIGKILL, the OOM killer, a power cut)
// left a partial .cpsbackup-*.tmp in the user's folder, which the next backup stored; nothing is left now.
test('a file is written without a name, given its metadata through its fd, then linked into place', async () => {
  const tree = await openTree('files');
  try {
    await writeNameReplaceAbort(tree, (names) => assert.deepEqual(names, [], 'no name in the folder while the file is written'));
  } finally {
    tree.close();
  }
});

test('where the file system cannot make a file without a name, it is written under a temp name, then renamed into place', async () => {
  const tree = await openTree('named-files');
  try {
    // As after open(O_TMPFILE) answered EOPNOTSUPP (vfat, some network and FUSE file systems).
    (tree as unknown as { makesUnnamedFiles: boolean }).makesUnnamedFiles = false;
    await writeNameReplaceAbort(tree, (names) => {
      assert.equal(names.length, 1);
      assert.match(names[0], /^\.cpsbackup-[0-9a-f]{16}(-[0-9a-z]+)?\.tmp$/);
    });
  } finally {
    tree.close();
  }
});

test('owner then xattrs then mode: setuid/setgid and file capabilities survive the chown', { skip: isRoot ? false : 'chown to other users needs root' }, async () => {
  const tree = await openTree('order');
  try {
    const file = tree.createFile('/setuid');
    // security.capability is cleared by chown: applied after it, it stays.
    const capability = Buffer.from('0100000200200000000000000000000000000000', 'hex'); // cap_net_bind_service, v2
    file.setMetadata({ owner: { uid: 1, gid: 1 }, mode: 0o6755, xattrs: [{ name: 'security.capability', value: capability }] });
    file.commit();
    const stats = tree.stat('/setuid');
    assert.equal((stats?.mode ?? 0) & 0o7777, 0o6755);
    assert.equal(stats?.uid, 1);
    assert.deepEqual(getXattr({ path: join(tree.rootPath, 'setuid') }, 'security.capability'), capability);
  } finally {
    tree.close();
  }
});

test('owners are chosen by name when the name exists here, else by number (tar\'s rule)', { skip: isRoot ? false : 'chown to other users needs root' }, async () => {
  const tree = await openTree('owners');
  try {
    tree.makeFifo('/by-name');
    tree.setMetadata('/by-name', { owner: { uid: 4000, gid: 4000, user: 'daemon', group: 'daemon' } });
    assert.equal(tree.stat('/by-name')?.uid, 1, 'daemon is uid 1 here, whatever the backup recorded');
    assert.equal(tree.stat('/by-name')?.gid, 1);
    tree.makeSymlink('/by-number', 'x');
    tree.setMetadata('/by-number', { owner: { uid: 54321, gid: 54322, user: 'no-such-user-here', group: 'no-such-group-here' } });
    assert.equal(tree.stat('/by-number')?.uid, 54321);
    assert.equal(tree.stat('/by-number')?.gid, 54322);
  } finally {
    tree.close();
  }
});

test('an ACL inherited from a default ACL is removed when the entry had none; given ACLs are set', async () => {
  const tree = await openTree('acls');
  try {
    tree.makeFolder('/inheriting');
    execFileSync('setfacl', ['-d', '-m', 'u:1234:rwx', join(tree.rootPath, 'inheriting')]);
    const plain = tree.createFile('/inheriting/plain');
    plain.setMetadata({ mode: 0o640, xattrs: [] });
    plain.commit();
    const names = listXattrs({ path: join(tree.rootPath, 'inheriting/plain') }).map(String);
    assert.ok(!names.includes(ACL_ACCESS), `no inherited ACL left: ${names.join(', ')}`);
    tree.makeFolder('/inheriting/sub');
    const acl = getXattr({ path: join(tree.rootPath, 'inheriting') }, ACL_DEFAULT);
    tree.setMetadata('/inheriting/sub', { mode: 0o750, xattrs: [{ name: ACL_DEFAULT, value: acl }] });
    assert.deepEqual(getXattr({ path: join(tree.rootPath, 'inheriting/sub') }, ACL_DEFAULT), acl);
    assert.ok(!listXattrs({ path: join(tree.rootPath, 'inheriting/sub') }).map(String).includes(ACL_ACCESS));
    assert.match(execFileSync('getfacl', ['-cp', join(tree.rootPath, 'inheriting/sub')]).toString(), /default:user:1234:rwx/);
  } finally {
    tree.close();
  }
});

test('failing metadata steps are all reported together and the others still applied', async () => {
  const tree = await openTree('partial-metadata');
  try {
    tree.makeFifo('/fifo');
    // user.* attributes are not allowed on a FIFO: that step fails, the mode and mtime are still set.
    assert.throws(
      () => tree.setMetadata('/fifo', { mode: 0o604, mtimeNs: 42n, xattrs: [{ name: 'user.not-here', value: Buffer.from('x') }] }),
      (error: unknown) => error instanceof MetadataError && error.failures.length === 1 && error.failures[0].step === 'xattr user.not-here',
    );
    assert.equal((tree.stat('/fifo')?.mode ?? 0) & 0o7777, 0o604);
    assert.equal(tree.stat('/fifo')?.mtimeNs, 42n);
  } finally {
    tree.close();
  }
});

test('folders get their metadata after their content; the root entry "/" is the target itself', async () => {
  const tree = await openTree('folders');
  try {
    assert.equal(tree.makeFolder('/a/b').created, true);
    assert.equal(tree.makeFolder('/a/b').created, false);
    assert.equal((tree.stat('/a')?.mode ?? 0) & 0o7777, 0o700, 'folders made on the way are private until their metadata comes');
    tree.createFile('/a/b/file').commit();
    tree.setMetadata('/a/b', { mode: 0o2775, mtimeNs: 1_000_000_000_000_000_007n });
    tree.setMetadata('/', { mode: 0o1755, mtimeNs: 7n });
    assert.equal((tree.stat('/a/b')?.mode ?? 0) & 0o7777, 0o2775);
    assert.equal(tree.stat('/a/b')?.mtimeNs, 1_000_000_000_000_000_007n);
    assert.equal((tree.stat('/')?.mode ?? 0) & 0o7777, 0o1755);
    assert.equal(tree.stat('/')?.mtimeNs, 7n);
    assert.equal(tree.remove('/a/b/file'), true);
    assert.equal(tree.remove('/a/b/file'), false);
    assert.equal(tree.remove('/a/b'), true);
    assert.equal(tree.stat('/a/b'), undefined);
  } finally {
    tree.close();
  }
});

test('symlinks keep their target bytes; FIFOs, sockets and devices are made as asked', async () => {
  const tree = await openTree('special');
  try {
    const target = Buffer.from([0x2e, 0x2e, 0x2f, 0xff, 0x0a, 0x5c]);
    tree.makeSymlink('/link', target);
    assert.deepEqual((await import('node:fs')).readlinkSync(Buffer.from(join(tree.rootPath, 'link')), { encoding: 'buffer' }), target);
    tree.makeSymlink('/link', 'replaced', { replace: true });
    assert.equal((await import('node:fs')).readlinkSync(join(tree.rootPath, 'link')), 'replaced');
    tree.makeFifo('/fifo', 0o640);
    tree.makeSocket('/socket', 0o600);
    assert.equal(entryKind(tree.stat('/fifo')?.mode ?? 0), 'fifo');
    assert.equal(entryKind(tree.stat('/socket')?.mode ?? 0), 'socket');
    if (isRoot) {
      tree.makeDevice('/char', 'char', { major: 240, minor: 70_000 }, 0o620);
      tree.makeDevice('/block', 'block', { major: 7, minor: 3 });
      assert.equal(entryKind(tree.stat('/char')?.mode ?? 0), 'char-device');
      assert.deepEqual(splitDeviceNumber(tree.stat('/char')?.rdev ?? 0n), { major: 240, minor: 70_000 });
      assert.deepEqual(splitDeviceNumber(tree.stat('/block')?.rdev ?? 0n), { major: 7, minor: 3 });
      assert.equal(tree.openExistingFile('/char'), undefined, 'a device is never opened');
    } else {
      assert.throws(() => tree.makeDevice('/char', 'char', { major: 1, minor: 3 }), NeedsRootError);
    }
  } finally {
    tree.close();
  }
});

test('without root a device is a typed "needs root" refusal (checked in a child running as nobody)', { skip: isRoot ? false : 'the test itself needs root to drop to nobody' }, async () => {
  const folder = join(workspace, 'as-nobody');
  execFileSync('chmod', ['0711', workspace]); // mkdtemp made it 0700: nobody must be able to pass through
  execFileSync('install', ['-d', '-o', 'nobody', folder]);
  const script = `
    const { RestoreTree } = require(${JSON.stringify(join(__dirname, '../src/client/restore-tree/restore-tree.js'))});
    const { NeedsRootError } = require(${JSON.stringify(join(__dirname, '../src/client/restore-tree/errors.js'))});
    RestoreTree.open(${JSON.stringify(folder)}).then((tree) => {
      try { tree.makeDevice('/dev', 'char', { major: 1, minor: 3 }); console.log('made'); }
      catch (error) { console.log(error instanceof NeedsRootError ? 'needs-root: ' + error.message : 'other: ' + error); }
      tree.close();
    });`;
  const output = execFileSync('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, '-e', script]).toString();
  assert.match(output, /^needs-root: cannot restore "\/dev": creating a character device needs root/);
  assert.deepEqual(await readdir(folder), []);
});

test('a sparse file is written back by extents: same bytes, about the same blocks', async () => {
  const tree = await openTree('sparse');
  try {
    const size = 256 * 1024 * 1024;
    const extents = [{ offset: 4096, length: 5000 }, { offset: 200 * 1024 * 1024, length: 8192 }];
    const data = Buffer.alloc(13_192, 'sparse!');
    const file = tree.createFile('/sparse');
    await pipeline(Readable.from([data.subarray(0, 3000), data.subarray(3000)]), createExtentWriter(file.fd, extents, size));
    const written = dataExtents(file.fd);
    file.commit();
    const restored = tree.stat('/sparse');
    assert.equal(restored?.size, size);
    assert.ok((restored?.blocks ?? Infinity) * 512 <= 64 * 1024, `about the data's blocks, got ${restored?.blocks} blocks`);
    assert.deepEqual(written.map((extent) => extent.offset), [4096, 200 * 1024 * 1024], "holes stay holes");
    const fd = tree.openExistingFile('/sparse') as number;
    const buffer = Buffer.alloc(8192);
    readSync(fd, buffer, 0, 8192, 200 * 1024 * 1024);
    assert.deepEqual(buffer, data.subarray(5000));
    readSync(fd, buffer, 0, 100, 100 * 1024 * 1024);
    assert.ok(buffer.subarray(0, 100).every((byte) => byte === 0), 'holes read as zeros');
    closeSync(fd);

    const short = tree.createFile('/short');
    await assert.rejects(pipeline(Readable.from([Buffer.alloc(10)]), createExtentWriter(short.fd, extents, size)), /short of the extents/);
    await assert.rejects(pipeline(Readable.from([Buffer.alloc(20_000)]), createExtentWriter(short.fd, extents, size)), /more data than the extents hold/);
    short.abort();
    assert.throws(() => createExtentWriter(0, [{ offset: 10, length: 5 }, { offset: 12, length: 5 }], 100), /overlaps/);
    assert.throws(() => createExtentWriter(0, [{ offset: 90, length: 20 }], 100), /beyond the size/);
  } finally {
    tree.close();
  }
});

test('folder fds are cached in a bounded LRU: thousands of folders, few open fds', async () => {
  const maxCachedFolders = 16;
  const tree = await openTree('many', { maxCachedFolders });
  const openFds = (): number => readdirSync('/proc/self/fd').length;
  const baseline = openFds();
  try {
    for (let index = 0; index < 2000; index++) {
      const path = `/level-${index % 7}/folder-${index}/inner`;
      tree.makeFolder(path);
      tree.makeFifo(`${path}/fifo`);
      assert.ok(tree.openFolderCount <= maxCachedFolders + 1);
    }
    assert.ok(openFds() <= baseline + maxCachedFolders + 1, `open fds ${openFds()} (baseline ${baseline})`);
  } finally {
    tree.close();
  }
  assert.ok(openFds() <= baseline - 1, 'close() releases every fd, the root included');
});

test('an open temp file keeps its folder: eviction and close() wait for its commit or abort', async () => {
  const tree = await openTree('leased', { maxCachedFolders: 2 });
  const openFds = (): number => readdirSync('/proc/self/fd').length;
  const baseline = openFds();
  const held = tree.createFile('/held/kept.txt');
  writeSync(held.fd, 'kept');
  // Many other folders pass through the cache of two while the temp file is open.
  for (let index = 0; index < 50; index++) tree.makeFifo(`/other-${index}/fifo`);
  held.commit();
  assert.equal(await readFile(join(tree.rootPath, 'held', 'kept.txt'), 'utf8'), 'kept');
  const aborted = tree.createFile('/late/gone.txt');
  const committed = tree.createFile('/late/there.txt');
  writeSync(committed.fd, 'there');
  tree.close();
  // The tree is closed, the temp files' folder is not: both still end where they were made.
  aborted.abort();
  committed.commit();
  assert.deepEqual(await readdir(join(tree.rootPath, 'late')), ['there.txt']);
  assert.equal(await readFile(join(tree.rootPath, 'late', 'there.txt'), 'utf8'), 'there');
  assert.ok(openFds() <= baseline - 1, `every fd is closed at the last release (open ${openFds()}, baseline ${baseline})`);
});

// Review: replacing a file in an append-only folder (chattr +a) fails, as it must, but the error named only the
// failed removal of the temporary name, and that name stayed in the folder, unsaid, for the next backup to store.
test('a file that cannot replace its entry in an append-only folder: the rename\'s error, and the temporary name left is named', { skip: isRoot ? false : 'chattr +a needs root' }, async (t) => {
  const tree = await openTree('append-only');
  const folder = join(tree.rootPath, 'ap');
  t.after(() => {
    execFileSync('chattr', ['-a', folder]);
    tree.close();
  });
  for (const unnamed of [true, false]) {
    (tree as unknown as { makesUnnamedFiles: boolean }).makesUnnamedFiles = unnamed;
    if (unnamed) {
      const first = tree.createFile('/ap/f');
      writeSync(first.fd, 'first\n');
      first.commit();
      execFileSync('chattr', ['+a', folder]);
    }
    const file = tree.createFile('/ap/f');
    writeSync(file.fd, 'second\n');
    assert.throws(() => file.commit({ replace: true }), (error: unknown) => {
      assert.ok(error instanceof RestoreSystemError);
      assert.equal(error.systemCode, 'EPERM');
      assert.match(error.message, unnamed ? /rename.*; its temporary copy \.cpsbackup-\S+\.tmp stays beside it \(it cannot be removed: EPERM\); remove it by hand/
        : /rename/);
      return true;
    });
    const leftBehind = file.abort();
    if (unnamed) assert.equal(leftBehind, undefined, 'said once, with the error');
    else assert.match(leftBehind ?? '', /ap\/f: its temporary copy \.cpsbackup-\S+\.tmp stays beside it \(it cannot be removed: EPERM\); remove it by hand/);
    assert.equal(await readFile(join(folder, 'f'), 'utf8'), 'first\n');
  }
});
