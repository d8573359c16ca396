// Regression (red team redconf): procfs files say their size is 0 and read their content all the same;
// read within their size they were stored empty, exit 0 (`include = /proc/sys/kernel/random`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { unsizedContentOf, UnsizedContentError } from '../src/client/posix/unsized-content';
import { FileContent } from '../src/client/file-content';
import { withTempFolder } from './support/temp-folder';

function withOpen<T>(path: string, use: (fd: number) => T): T {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    return use(fd);
  } finally {
    closeSync(fd);
  }
}

test('a procfs file of size 0 is read to its end, whole, by the file content reader too', () => {
  for (const path of ['/proc/sys/kernel/ostype', '/proc/sys/kernel/random/poolsize', '/proc/self/status']) {
    const expected = path === '/proc/self/status' ? undefined : readFileSync(path);
    const content = withOpen(path, (fd) => unsizedContentOf(fd));
    assert.ok(content !== undefined && content.length > 0, `${path}: read nothing`);
    if (expected !== undefined) assert.deepEqual(content, expected, path);
  }
  const fd = openSync('/proc/sys/kernel/ostype', constants.O_RDONLY);
  const file = FileContent.open(fd);
  try {
    assert.equal(file.contentSize, readFileSync('/proc/sys/kernel/ostype').length);
    assert.equal(file.statAtOpen.size, 0);
    assert.deepEqual(file.readWhole(), readFileSync('/proc/sys/kernel/ostype'));
  } finally {
    file.close();
  }
});

test('a file of size 0 elsewhere is not read, and a sized procfs file is not taken as unsized', async () => {
  await withTempFolder('cpsbackup-unsized-', async (folder) => {
    const empty = join(folder, 'empty');
    writeFileSync(empty, '');
    assert.equal(withOpen(empty, (fd) => unsizedContentOf(fd)), undefined);
    const file = FileContent.open(openSync(empty, constants.O_RDONLY));
    try {
      assert.equal(file.contentSize, 0);
      assert.equal(file.readWhole().length, 0);
    } finally {
      file.close();
    }
  });
});

test('kmsg is refused unread wherever procfs is mounted: a read takes the kernel\'s messages from syslog', { skip: process.getuid?.() === 0 ? false : 'opening kmsg and mounting procfs need root' }, async () => {
  const refused = (error: Error): boolean => error instanceof UnsizedContentError && /kmsg takes the kernel's messages from syslog/.test(error.message);
  assert.throws(() => withOpen('/proc/kmsg', (fd) => unsizedContentOf(fd)), refused);
  // Regression (review): recognised by the path /proc/kmsg alone, a chroot's or a container's procfs passed.
  await withTempFolder('cpsbackup-unsized-proc-', async (folder) => {
    execFileSync('mount', ['-t', 'proc', 'proc', folder]);
    try {
      assert.throws(() => withOpen(join(folder, 'kmsg'), (fd) => unsizedContentOf(fd)), refused);
    } finally {
      execFileSync('umount', [folder]);
    }
  });
});

test('a cgroup file of size 0 is read to its end; tracefs and debugfs files of size 0 are refused unread', () => {
  const stat = '/sys/fs/cgroup/memory/memory.stat';
  if (existsSync(stat)) assert.deepEqual(withOpen(stat, (fd) => unsizedContentOf(fd))?.subarray(0, 6).toString(), readFileSync(stat).subarray(0, 6).toString());
  for (const file of ['/sys/kernel/tracing/README', '/sys/kernel/debug/tracing/README']) {
    if (!existsSync(file)) continue;
    assert.throws(() => withOpen(file, (fd) => unsizedContentOf(fd)), (error: Error) => error instanceof UnsizedContentError && /(tracefs|debugfs) file, whose size says 0/.test(error.message), file);
  }
});
