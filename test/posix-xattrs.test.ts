// Proves the xattr wrappers: bytes in and out by fd, by path and by folder fd + name (through
// /proc/self/fd, so long paths work), no symlink followed, ACLs visible as system.posix_acl_* values.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, renameSync, writeFileSync } from 'node:fs';
import { mkdtemp, realpath, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { mkdirAt, openAt, openFolderAt, openHandleAt, posixConstants } from '../src/client/posix/at';
import { posixAddon } from '../src/client/posix/addon';
import { ACL_ACCESS, getXattr, isXattrUnsupported, listXattrs, readXattrs, removeXattr, setXattr } from '../src/client/posix/xattrs';
import { removeTree } from './support/remove-tree';

let workspace: string;

before(async () => {
  workspace = await realpath(await mkdtemp(join(tmpdir(), 'cpsbackup-posix-xattrs-')));
});

after(() => removeTree(workspace));

const names = (list: Buffer[]): string[] => list.map(String).sort();

test('set, list, get and remove by path, by fd and by folder fd + name, values as bytes', () => {
  const path = join(workspace, 'file');
  writeFileSync(path, 'x');
  const binary = Buffer.from([0, 0xff, 0x0a, 0x00]);
  setXattr({ path }, 'user.by-path', binary);
  const fd = openAt(posixConstants().AT_FDCWD, path, posixConstants().O_RDONLY);
  setXattr({ fd }, 'user.by-fd', Buffer.from('fd'));
  const folderFd = openFolderAt(posixConstants().AT_FDCWD, workspace);
  setXattr({ dirfd: folderFd, name: 'file' }, 'user.empty', Buffer.alloc(0));
  assert.deepEqual(names(listXattrs({ fd })), ['user.by-fd', 'user.by-path', 'user.empty']);
  assert.deepEqual(getXattr({ dirfd: folderFd, name: Buffer.from('file') }, 'user.by-path'), binary);
  assert.deepEqual(getXattr({ path }, 'user.empty'), Buffer.alloc(0));
  assert.deepEqual(
    readXattrs({ fd }).map((xattr) => [String(xattr.name), xattr.value.toString('hex')]),
    [['user.by-fd', '6664'], ['user.by-path', '00ff0a00'], ['user.empty', '']],
  );
  assert.throws(() => setXattr({ fd }, 'user.by-fd', Buffer.from('again'), posixConstants().XATTR_CREATE), { code: 'EEXIST' });
  assert.throws(() => setXattr({ fd }, 'user.absent', Buffer.from('x'), posixConstants().XATTR_REPLACE), { code: 'ENODATA' });
  removeXattr({ dirfd: folderFd, name: 'file' }, 'user.by-fd');
  removeXattr({ fd }, 'user.empty');
  assert.deepEqual(names(listXattrs({ path })), ['user.by-path']);
  assert.throws(() => getXattr({ path }, 'user.by-fd'), { code: 'ENODATA', syscall: 'lgetxattr' });
  const big = Buffer.alloc(3000, 'v');
  setXattr({ fd }, 'user.big', big);
  assert.deepEqual(getXattr({ fd }, 'user.big'), big);
  closeSync(fd);
  closeSync(folderFd);
});

test('a symlink is never followed: its target\'s attributes are not seen or changed through it', async () => {
  const target = join(workspace, 'target');
  writeFileSync(target, 't');
  setXattr({ path: target }, 'user.on-target', Buffer.from('t'));
  await symlink(target, join(workspace, 'link'));
  const folderFd = openFolderAt(posixConstants().AT_FDCWD, workspace);
  assert.deepEqual(listXattrs({ path: join(workspace, 'link') }), []);
  assert.deepEqual(listXattrs({ dirfd: folderFd, name: 'link' }), []);
  // user.* is not allowed on a symlink: the kernel refuses instead of writing to the target.
  assert.throws(() => setXattr({ dirfd: folderFd, name: 'link' }, 'user.through', Buffer.from('x')), { code: 'EPERM' });
  assert.deepEqual(names(listXattrs({ path: target })), ['user.on-target']);
  closeSync(folderFd);
});

test('a path longer than 4096 bytes is reached by folder fd + name', () => {
  let fd = openFolderAt(posixConstants().AT_FDCWD, workspace);
  for (let depth = 0; depth < 20; depth++) {
    const name = `${depth}-${'L'.repeat(240)}`;
    mkdirAt(fd, name, 0o700);
    const next = openFolderAt(fd, name);
    closeSync(fd);
    fd = next;
  }
  const { O_WRONLY, O_CREAT } = posixConstants();
  closeSync(openAt(fd, 'deep', O_WRONLY | O_CREAT, 0o600));
  setXattr({ dirfd: fd, name: 'deep' }, 'user.deep', Buffer.from('yes'));
  assert.deepEqual(getXattr({ dirfd: fd, name: 'deep' }, 'user.deep'), Buffer.from('yes'));
  closeSync(fd);
});

test('POSIX ACLs are the system.posix_acl_access attribute and copy as bytes', () => {
  const source = join(workspace, 'acl-source');
  const copy = join(workspace, 'acl-copy');
  writeFileSync(source, 'a');
  writeFileSync(copy, 'a');
  execFileSync('setfacl', ['-m', 'u:1234:r-x,g:2345:rw-', source]);
  const acl = getXattr({ path: source }, ACL_ACCESS);
  assert.equal(acl.readUInt32LE(0), 2, 'ACL xattr version 2');
  setXattr({ path: copy }, ACL_ACCESS, acl);
  const text = execFileSync('getfacl', ['-cn', copy]).toString();
  assert.match(text, /user:1234:r-x/);
  assert.match(text, /group:2345:rw-/);
});

test('a file system without attributes is told apart by the error the addon really gives (EOPNOTSUPP, errno 95 on Linux)', () => {
  // procfs takes no attributes: its errno is the one a FUSE file system without them (sshfs) or NFSv3 gives.
  const fd = openSync('/proc/self/status', 'r');
  try {
    assert.throws(() => getXattr({ fd }, 'user.any'), (error: unknown) => isXattrUnsupported(error));
    assert.throws(() => setXattr({ path: '/proc/self/status' }, 'user.any', Buffer.from('x')), (error: unknown) => isXattrUnsupported(error));
    assert.deepEqual(readXattrs({ fd }), []);
  } finally {
    closeSync(fd);
  }
  assert.equal(isXattrUnsupported(Object.assign(new Error('x'), { code: 'ENOTSUP' })), true);
  assert.equal(isXattrUnsupported(Object.assign(new Error('x'), { code: 'EACCES' })), false);
});

test('an O_PATH handle target reaches the handle\'s inode, never what has its name now, with or without the kernel\'s *xattrat', (t) => {
  const path = join(workspace, 'held');
  writeFileSync(path, 'the held file');
  const handle = openHandleAt(posixConstants().AT_FDCWD, path);
  t.after(() => closeSync(handle));
  // Another file now has the name: a call by name would reach it.
  renameSync(path, `${path}.aside`);
  writeFileSync(path, 'another file');
  setXattr({ handle }, 'user.through-handle', Buffer.from('kept'));
  // As on a kernel before 6.13: the *xattrat calls are missing, the handle's /proc/self/fd link is taken.
  const addon = posixAddon() as unknown as Record<string, unknown>;
  for (const method of ['setxattrat', 'listxattrat', 'getxattrat', 'removexattrat']) {
    const original = addon[method];
    t.after(() => { addon[method] = original; });
    addon[method] = (): never => { throw Object.assign(new Error('ENOSYS: function not implemented'), { code: 'ENOSYS' }); };
  }
  setXattr({ handle }, 'user.without-xattrat', Buffer.from('also'));
  assert.deepEqual(names(listXattrs({ handle })), ['user.through-handle', 'user.without-xattrat']);
  assert.deepEqual(getXattr({ handle }, 'user.through-handle'), Buffer.from('kept'));
  removeXattr({ handle }, 'user.without-xattrat');
  assert.deepEqual(names(listXattrs({ path: `${path}.aside` })), ['user.through-handle'], 'the held file has them');
  assert.deepEqual(listXattrs({ path }), [], 'the file that took its name has none');
});
