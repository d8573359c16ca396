// Regression: a file written through a shared mapping (mmap: LMDB, SQLite's mmap mode, a program's own)
// after a backup read it kept its size, mtime and ctime: the kernel stamps them at the first write fault
// on a clean page only, and a page already dirty (for up to ~35 s, until writeback; on tmpfs for ever)
// takes later writes silently. The next backup's unchanged check then carried the content read before,
// and so did every later one: the restore gave the old bytes, exit 0. The backup now writes a file's
// dirty pages back before reading it (a later write through a mapping faults and moves the ctime), and
// where that cannot be had (tmpfs) reads the file again next time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, statfs, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { Sandbox } from './support/sandbox';

/** Maps the file shared, writes "first" at its start, then on a line of input "later!", then exits (no msync). */
const WRITER = `#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
int main(int argc, char **argv) {
  int fd = open(argv[1], O_RDWR);
  char *map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (fd < 0 || map == MAP_FAILED) return 1;
  memcpy(map, "first!", 6);
  printf("first\\n");
  fflush(stdout);
  char line[16];
  if (fgets(line, sizeof line, stdin) == NULL) return 1;
  memcpy(map, "later!", 6);
  printf("later\\n");
  fflush(stdout);
  return 0;
}
`;

const TMPFS_MAGIC = 0x01021994;

/** The writer built in `folder`; undefined when no C compiler is here. */
function buildWriter(folder: string): string | undefined {
  writeFileSync(join(folder, 'mapped-writer.c'), WRITER);
  try {
    execFileSync('cc', ['-O2', '-o', join(folder, 'mapped-writer'), join(folder, 'mapped-writer.c')], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  return join(folder, 'mapped-writer');
}

async function scenario(sandbox: Sandbox, writer: string, data: string, client: string): Promise<void> {
  const file = join(data, 'table.db');
  await writeFile(file, Buffer.alloc(4096, 0x2e));
  const config = await sandbox.writeNodeConfig(client, [`include = ${data}`]);
  const child = spawn(writer, [file], { stdio: ['pipe', 'pipe', 'inherit'] });
  const output = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  try {
    assert.equal((await output.next()).value, 'first');
    // Past the one-second window in which a recent change is read again anyway.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const first = await sandbox.runClient(['-c', config, '-e']);
    assert.equal(first.code, 0, first.stdout + first.stderr);
    child.stdin!.write('go\n');
    assert.equal((await output.next()).value, 'later');
    await once(child, 'exit');
  } finally {
    child.kill();
  }
  assert.equal((await readFile(file)).subarray(0, 6).toString(), 'later!');
  const second = await sandbox.runClient(['-c', config, '-e']);
  assert.equal(second.code, 0, second.stdout + second.stderr);
  const target = join(sandbox.root, `restored-${client}`);
  const restore = await sandbox.runClient(['-c', config, '-i', '--to', target]);
  assert.equal(restore.code, 0, restore.stdout + restore.stderr);
  const restored = await readFile(join(target, file));
  assert.equal(restored.subarray(0, 6).toString(), 'later!', 'the second backup holds what the file holds');
}

test('a file written through a shared mapping after a backup read it is read again by the next backup', async (t) => {
  const sandbox = await Sandbox.create({ clients: ['node1', 'node2', 'node3'] });
  t.after(() => sandbox.destroy());
  const writer = buildWriter(sandbox.root);
  if (writer === undefined) {
    t.skip('no C compiler to build the mapping writer');
    return;
  }
  await sandbox.startServer();
  const data = join(sandbox.root, 'data');
  await mkdir(data);
  await t.test('on a file system that writes back (the pages are cleaned before the read)', () => scenario(sandbox, writer, data, 'node1'));
  const shm = '/dev/shm';
  const isTmpfs = await statfs(shm).then((stats) => stats.type === TMPFS_MAGIC, () => false);
  await t.test('on tmpfs (nothing cleans its pages: read again each backup)', { skip: isTmpfs ? false : 'no tmpfs at /dev/shm' }, async () => {
    const onTmpfs = await mkdtemp(join(shm, 'cpsbackup-mapped-'));
    try {
      await scenario(sandbox, writer, onTmpfs, 'node2');
    } finally {
      await rm(onTmpfs, { recursive: true, force: true });
    }
  });
  // overlayfs (containers): sync_file_range on its file returned 0 and cleaned nothing (the pages are the upper file's).
  const overlay = join(sandbox.root, 'overlay');
  await Promise.all(['lower', 'upper', 'work', 'merged'].map((name) => mkdir(join(overlay, name), { recursive: true })));
  let isMounted = false;
  try {
    execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${join(overlay, 'lower')},upperdir=${join(overlay, 'upper')},workdir=${join(overlay, 'work')}`,
      join(overlay, 'merged')], { stdio: 'ignore' });
    isMounted = true;
  } catch {
    // Not root, or no overlayfs here.
  }
  await t.test('on overlayfs (the pages are the upper file\'s: read again each backup)', { skip: isMounted ? false : 'cannot mount an overlay here' }, async () => {
    try {
      await scenario(sandbox, writer, join(overlay, 'merged'), 'node3');
    } finally {
      execFileSync('umount', [join(overlay, 'merged')]);
    }
  });
});
