// Regression (red team redconf): procfs files say their size is 0 and read their content all the same;
// read within their size they were stored empty, exit 0 (`include = /proc/sys/kernel/random`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, constants, openSync, readFileSync, writeFileSync } from 'node:fs';
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

test('/proc/kmsg is refused unread: a read takes the kernel\'s messages from syslog', { skip: process.getuid?.() === 0 ? false : 'opening /proc/kmsg needs root' }, () => {
  assert.throws(() => withOpen('/proc/kmsg', (fd) => unsizedContentOf(fd)),
    (error: Error) => error instanceof UnsizedContentError && /kmsg takes the kernel's messages from syslog/.test(error.message));
});
