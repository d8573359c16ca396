// Regression (operator review): `cpsbackup -e` with state_directory on a full disk failed with a raw
// stack trace (ENOSPC from writing its PID into backup.lock), and with state_directory = /proc/1 the
// same with ENOENT, where the README promises that a lock that cannot be taken only brings a warning.
// The PID is a courtesy for messages, the lock is the flock: a full disk now keeps the lock without the
// PID, a folder where no lock file can be made at all (no inode left, /proc) is warned of with the file
// and the code, and the backup runs in both cases. A real small tmpfs makes the disk full (root only).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, existsSync, openSync, readFileSync, writeSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { withBackupLock } from '../src/client/backup-lock';
import { acquirePidLock } from '../src/client/posix/pid-lock';
import type { NodeConfig } from '../src/common/config/node-config';
import { BusyError } from '../src/common/errors';
import { isEnvironmentError } from '../src/cli/environment-error';
import { startInProcessServer } from './support/in-process-server';
import { runNode } from './support/sandbox';
import { mountTmpfs, tmpfsRefusal, unmountTmpfs } from './support/tmpfs';
import { withTempFolder } from './support/temp-folder';

const CLI = resolve(__dirname, '..', 'src', 'cli', 'cpsbackup.js');
const isRoot = process.geteuid?.() === 0;
const tmpfsSkip = isRoot ? tmpfsRefusal() : 'needs root to mount a small tmpfs';

/** A tmpfs of 64 KiB under `folder`, filled to the last byte (and to the last inode with `isOutOfInodes`). */
async function fullTmpfs(folder: string, isOutOfInodes = false): Promise<string> {
  const mount = join(folder, isOutOfInodes ? 'no-inodes' : 'full');
  await mkdir(mount);
  mountTmpfs(mount, isOutOfInodes ? '64k,nr_inodes=16' : '64k');
  try {
    await mkdir(join(mount, 'state'));
    const fd = openSync(join(mount, 'fill'), 'w');
    try {
      for (;;) writeSync(fd, Buffer.alloc(4096));
    } catch (error) {
      assert.equal((error as NodeJS.ErrnoException).code, 'ENOSPC');
    } finally {
      closeSync(fd);
    }
    for (let index = 0; isOutOfInodes; index++) {
      try {
        await writeFile(join(mount, `inode-${index}`), '');
      } catch (error) {
        assert.equal((error as NodeJS.ErrnoException).code, 'ENOSPC');
        break;
      }
    }
    return mount;
  } catch (error) {
    unmountTmpfs(mount);
    throw error;
  }
}

function warnedRun(stateDirectory: string): Promise<{ warnings: string[]; hasRun: boolean }> {
  const warnings: string[] = [];
  // The work_directory the state_directory too: this test is about the state_directory's lock alone.
  const config = { stateDirectory, workDirectory: stateDirectory, file: join(stateDirectory, 'node.conf') } as NodeConfig;
  return withBackupLock(config, () => Promise.resolve(true), (line) => warnings.push(line)).then((hasRun) => ({ warnings, hasRun }));
}

test('a state_directory where no lock file can be made (/proc/1) brings the warning, and the backup runs', async () => {
  const { warnings, hasRun } = await warnedRun('/proc/1');
  assert.equal(hasRun, true);
  // ENOENT as root; EACCES for another user.
  assert.match(warnings.join('\n'), /^cannot take the backup lock \/proc\/1\/backup\.lock \((ENOENT|EACCES)\): this backup runs without protection/);
});

test('on a full disk the lock is held without its PID; with no inode left it is warned of; the backup runs', { skip: tmpfsSkip }, async () => {
  await withTempFolder('cpsbackup-full-state-', async (folder) => {
    const mount = await fullTmpfs(folder);
    try {
      const state = join(mount, 'state');
      const file = join(state, 'backup.lock');
      const warnings: string[] = [];
      const config = { stateDirectory: state, workDirectory: state, file: join(folder, 'node.conf') } as NodeConfig;
      await withBackupLock(config, async () => {
        // Held: a second taker is refused, told only that another process holds it (no PID was written).
        assert.equal(readFileSync(file, 'utf8'), '');
        await assert.rejects(acquirePidLock(file, (owner) => `pid ${owner}`),
          (error: unknown) => error instanceof BusyError && /cannot take the lock .*backup\.lock: another process holds it/.test(error.message));
      }, (line) => warnings.push(line));
      assert.deepEqual(warnings, [], 'the lock was taken: nothing to warn of');
      assert.equal(existsSync(file), false, 'released');
    } finally {
      unmountTmpfs(mount);
    }
    const noInodes = await fullTmpfs(folder, true);
    try {
      const { warnings, hasRun } = await warnedRun(join(noInodes, 'state'));
      assert.equal(hasRun, true);
      assert.match(warnings.join('\n'), /^cannot take the backup lock .*\/state\/backup\.lock \(ENOSPC\): this backup runs without protection .*with free space/);
    } finally {
      unmountTmpfs(noInodes);
    }
  });
});

test('cpsbackup -e with state_directory on a full disk backs up (exit 0), no stack trace', { skip: tmpfsSkip }, async (t) => {
  const fixture = await startInProcessServer();
  const root = fixture.sandbox.root;
  let mount: string | undefined;
  t.after(async () => {
    if (mount !== undefined) unmountTmpfs(mount);
    await fixture.stop();
  });
  const data = join(root, 'data');
  await mkdir(data);
  await writeFile(join(data, 'a.txt'), 'backed up beside a full state_directory\n');
  mount = await fullTmpfs(root);
  await fixture.nodeConfig('node1', [`include = ${data}`]);
  const configFile = join(root, 'node1.conf');
  await writeFile(configFile, (await readFile(configFile, 'utf8')).replace(/^state_directory = .*$/m, `state_directory = ${join(mount, 'state')}`));
  const result = await runNode(CLI, ['-c', configFile, '-e'], 120_000);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.doesNotMatch(result.stderr, /ENOSPC|^\s+at /m);
  assert.equal(fixture.server.context.store.listBackups('node1').length, 1);
});

test('the CLIs print an environment error (a full disk, a missing or forbidden path) in one line: only other errors get a stack', async () => {
  await withTempFolder('cpsbackup-environment-error-', async (folder) => {
    const missing = await readFile(join(folder, 'absent')).catch((error: unknown) => error);
    assert.equal(isEnvironmentError(missing), true);
    assert.match((missing as Error).message, /^ENOENT: no such file or directory, open '.*absent'$/, 'Node names the path');
    const full = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
    assert.equal(isEnvironmentError(full), true);
  });
  assert.equal(isEnvironmentError(new TypeError('x is not a function')), false, 'a bug keeps its stack');
  assert.equal(isEnvironmentError(Object.assign(new Error('bad descriptor'), { code: 'EBADF', syscall: 'write' })), false, 'a bug keeps its stack');
});
