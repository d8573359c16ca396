// Proves the at-family wrappers and the addon's error contract: names as bytes, no symlink followed
// unless asked, lstat fields exact, Node-style errors (code, errno, syscall, escaped path), a clear
// error when the addon is not built.
import assert from 'node:assert/strict';
import { closeSync, readdirSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { PosixAddonMissingError, posixAddon } from '../src/client/posix/addon';
import {
  chmodAt,
  chmodFd,
  chownAt,
  entryKind,
  linkAt,
  mkdirAt,
  openAt,
  openFolderAt,
  openFolderHandleAt,
  posixConstants,
  readFolderAt,
  readlinkAt,
  renameAt,
  statAt,
  statAtIfExists,
  statFd,
  symlinkAt,
  unlinkAt,
} from '../src/client/posix/at';
import { posixWorkspace } from './support/posix-workspace';

const space = posixWorkspace('posix-at');

const BYTE_NAME = Buffer.from([0x6e, 0xff, 0x0a, 0x01, 0x5c]); // n \xff \n \x01 \

test('names are bytes: any byte but "/" and NUL is created, listed and stat-ed exactly', () => {
  const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = posixConstants();
  const fd = openAt(space.fd, BYTE_NAME, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o640);
  writeSync(fd, 'bytes\n');
  const byFd = statFd(fd);
  closeSync(fd);
  const names = readFolderAt(space.fd);
  assert.ok(names.some((name) => name.equals(BYTE_NAME)), 'listed with its exact bytes');
  assert.deepEqual(readdirSync(Buffer.from(space.path), { encoding: 'buffer' }).filter((name) => name.equals(BYTE_NAME)).length, 1);
  const stats = statAt(space.fd, BYTE_NAME);
  assert.equal(entryKind(stats.mode), 'file');
  assert.equal(stats.size, 6);
  assert.equal(stats.ino, byFd.ino);
  assert.equal(stats.nlink, 1);
  assert.equal(typeof stats.dev, 'bigint');
  assert.equal(typeof stats.mtimeNs, 'bigint');
  assert.ok(stats.blocks >= 0 && stats.blksize > 0);
  assert.throws(() => openAt(space.fd, Buffer.from('a\0b'), 0), /NUL/);
});

test('symlinks are stored and read back as bytes and never followed by lstat, chown or open', () => {
  const target = Buffer.from([0x2e, 0x2e, 0x2f, 0xfe, 0x0a]);
  symlinkAt(target, space.fd, 'link');
  assert.deepEqual(readlinkAt(space.fd, 'link'), target);
  assert.equal(entryKind(statAt(space.fd, 'link').mode), 'symlink');
  symlinkAt(join(space.path, 'real-folder'), space.fd, 'folder-link');
  mkdirAt(space.fd, 'real-folder', 0o755);
  const { O_RDONLY, O_NOFOLLOW } = posixConstants();
  assert.throws(() => openAt(space.fd, 'folder-link', O_RDONLY | O_NOFOLLOW), { code: 'ELOOP' });
  assert.throws(() => openFolderAt(space.fd, 'folder-link'), (error: NodeJS.ErrnoException) => ['ELOOP', 'ENOTDIR'].includes(error.code ?? ''));
  assert.throws(() => openFolderHandleAt(space.fd, 'folder-link'), (error: NodeJS.ErrnoException) => ['ELOOP', 'ENOTDIR'].includes(error.code ?? ''));
  const before = statAt(space.fd, 'real-folder');
  chownAt(space.fd, 'folder-link', before.uid, before.gid); // lchown: the link, not the folder
  assert.throws(() => chmodAt(space.fd, 'folder-link', 0o700), (error: NodeJS.ErrnoException) => ['EOPNOTSUPP', 'ENOTSUP'].includes(error.code ?? ''));
  assert.equal(statAt(space.fd, 'real-folder').mode, before.mode, 'the target folder kept its mode');
  // A long target (grows the readlink buffer).
  const longTarget = Buffer.alloc(3000, 't');
  symlinkAt(longTarget, space.fd, 'long-link');
  assert.deepEqual(readlinkAt(space.fd, 'long-link'), longTarget);
});

test('link, rename (with RENAME_NOREPLACE), unlink and chmod work relative to a folder handle', () => {
  const { O_WRONLY, O_CREAT, O_EXCL } = posixConstants();
  const handle = openFolderHandleAt(space.fd, '.');
  closeSync(openAt(handle, 'a', O_WRONLY | O_CREAT | O_EXCL, 0o600));
  linkAt(handle, 'a', handle, 'b');
  assert.equal(statAt(handle, 'a').nlink, 2);
  assert.throws(() => renameAt(handle, 'a', handle, 'b', posixConstants().RENAME_NOREPLACE), { code: 'EEXIST' });
  renameAt(handle, 'a', handle, 'c');
  assert.equal(statAtIfExists(handle, 'a'), undefined);
  chmodAt(handle, 'c', 0o4750);
  assert.equal(statAt(handle, 'b').mode & 0o7777, 0o4750);
  const fd = openAt(handle, 'c', posixConstants().O_RDONLY);
  chmodFd(fd, 0o2640);
  closeSync(fd);
  assert.equal(statAt(handle, 'c').mode & 0o7777, 0o2640);
  unlinkAt(handle, 'b');
  unlinkAt(handle, 'c');
  mkdirAt(handle, 'gone', 0o700);
  unlinkAt(handle, 'gone', { removeFolder: true });
  assert.equal(statAtIfExists(handle, 'gone'), undefined);
  closeSync(handle);
});

test('errors are Node-style: code, negative errno, syscall and the path with its bytes escaped', () => {
  try {
    statAt(space.fd, Buffer.concat([Buffer.from('missing-'), BYTE_NAME]));
    assert.fail('expected ENOENT');
  } catch (error) {
    const failure = error as NodeJS.ErrnoException;
    assert.equal(failure.code, 'ENOENT');
    assert.equal(failure.errno, -2);
    assert.equal(failure.syscall, 'fstatat');
    assert.equal(failure.path, 'missing-n\\xff\\x0a\\x01\\\\');
    assert.match(failure.message, /^ENOENT: .*, fstatat 'missing-n\\xff\\x0a\\x01\\\\'$/);
  }
  assert.throws(() => mkdirAt(space.fd, 'real-folder', 0o700), { code: 'EEXIST', syscall: 'mkdirat' });
  assert.throws(() => statFd(99_999), { code: 'EBADF' });
  assert.throws(() => openAt(space.fd, 'x', 1.5), /32-bit integer/);
});

test('a missing addon build is one clear error saying how to build it', () => {
  assert.throws(
    () => posixAddon(join(space.path, 'no-such-build', 'cpsbackup_posix.node')),
    (error: unknown) => error instanceof PosixAddonMissingError && /npm run build:native/.test(error.message) && error.message.includes('no-such-build'),
  );
});
