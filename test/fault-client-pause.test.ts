// A client paused (SIGSTOP) mid-backup for longer than the server's idle timeout while another client
// backs up, deletes and GC runs (RELIABILITY.md): the stalled backup is refused with a clear error and
// nothing of it is committed; every other backup restores and check --read-data passes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Sandbox } from './support/sandbox';
import { writeDeterministicFile } from './support/trees';
import { assertCheckClean, assertRestoresExactly, backupNow, listedNumbers, waitUntil, writtenPackBytes } from './support/fault-tools';

const MEBIBYTE = 1024 * 1024;
const CLIENT = resolve(__dirname, '..', 'src', 'cli', 'cpsbackup.js');

const storedBytes = writtenPackBytes;

test('a backup paused past the idle timeout while others back up and GC runs: refused, nothing committed, the rest intact', async () => {
  const sandbox = await Sandbox.create({ clients: ['node1', 'node2'], serverLines: ['idle_timeout = 2', 'keep = 5'] });
  try {
    const data1 = join(sandbox.root, 'data1');
    const data2 = join(sandbox.root, 'data2');
    await writeDeterministicFile(join(data1, 'big.bin'), 'paused-big', 64 * MEBIBYTE);
    await writeDeterministicFile(join(data2, 'shared.bin'), 'paused-big', 8 * MEBIBYTE);
    await writeDeterministicFile(join(data2, 'own.bin'), 'node2-own', 2 * MEBIBYTE);
    const server = await sandbox.startServer();
    const config1 = await sandbox.writeNodeConfig('node1', [`include = ${data1}`]);
    const config2 = await sandbox.writeNodeConfig('node2', [`include = ${data2}`]);
    const early = await backupNow(sandbox, config2, data2);

    const before = await storedBytes(sandbox);
    const child = spawn(process.execPath, [CLIENT, '-c', config1, '-e'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const exited = new Promise<number | null>((resolveExit) => child.on('exit', (code) => resolveExit(code)));
    try {
      await waitUntil(async () => (await storedBytes(sandbox)) > before + 4 * MEBIBYTE, 'the paused client to have stored data');
      child.kill('SIGSTOP');
      // Meanwhile: another client backs up, deletes its older backup (GC runs), and the server drops the silent stream.
      await unlink(join(data2, 'own.bin'));
      const later = await backupNow(sandbox, config2, data2);
      const deletion = await sandbox.runClient(['-c', config2, '-d', String(early.number)]);
      assert.equal(deletion.code, 0, deletion.stderr);
      await waitUntil(() => /no data from client "node1"/.test(server.log()), 'the server to time out the paused stream');
      child.kill('SIGCONT');
      const code = await exited;
      assert.equal(code, 1, stderr);
      assert.match(stderr, /no data from client "node1" for 2 s; backup abandoned/);
      assert.deepEqual(await listedNumbers(sandbox, config1), []);
      assert.deepEqual(await listedNumbers(sandbox, config2), [later.number]);
      await assertRestoresExactly(sandbox, config2, [later]);
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT');
        child.kill('SIGKILL');
      }
      await exited;
    }
    await server.stop();
    await assertCheckClean(sandbox);
  } finally {
    await sandbox.destroy();
  }
});
