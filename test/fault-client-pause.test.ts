// A client paused (SIGSTOP) mid-backup while another client backs up, deletes and GC runs (RELIABILITY.md): paused past the
// idle timeout it is refused and nothing of it commits; paused within it, it commits intact though GC ran; the rest restores.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Sandbox } from './support/sandbox';
import { snapshotTree, writeDeterministicFile } from './support/trees';
import { startClient } from './support/background-client';
import {
  assertCheckClean, assertRestoresExactly, backupNow, listedNumbers, waitForLog, waitUntil, writtenPackBytes, type KnownBackup,
} from './support/fault-tools';

const MEBIBYTE = 1024 * 1024;
const CLIENT = resolve(__dirname, '..', 'src', 'cli', 'cpsbackup.js');

const storedBytes = writtenPackBytes;
/**
 * A stopped client answers no ping: with server.conf's default network_timeout a pause past it drops the
 * backup whatever idle_timeout says. These tests are about idle_timeout and GC, so pings wait long.
 */
const PATIENT_PINGS = 'network_timeout = 3600';

test('a backup paused past the idle timeout while others back up and GC runs: refused, nothing committed, the rest intact', async () => {
  const sandbox = await Sandbox.create({ clients: ['node1', 'node2'], serverLines: ['idle_timeout = 2', 'keep = 5', PATIENT_PINGS] });
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

test('a backup paused while GC drops the last committed reference to chunks it deduplicated against commits intact once resumed', async (t) => {
  const sandbox = await Sandbox.create({ clients: ['node1', 'node2'], serverLines: ['idle_timeout = 300', 'keep = 5', PATIENT_PINGS] });
  const paused: { stop(): Promise<unknown> } = { stop: async () => undefined };
  t.after(async () => {
    await paused.stop();
    await sandbox.destroy();
  });
  const data1 = join(sandbox.root, 'data1');
  const data2 = join(sandbox.root, 'data2');
  // node2's shared.bin is the first 8 MiB of node1's big.bin: node1's session finds those chunks stored and holds them.
  await writeDeterministicFile(join(data1, 'big.bin'), 'paused-big', 64 * MEBIBYTE);
  await writeDeterministicFile(join(data2, 'shared.bin'), 'paused-big', 8 * MEBIBYTE);
  await writeDeterministicFile(join(data2, 'old.bin'), 'node2-old', 2 * MEBIBYTE);
  const server = await sandbox.startServer();
  const config1 = await sandbox.writeNodeConfig('node1', [`include = ${data1}`]);
  const config2 = await sandbox.writeNodeConfig('node2', [`include = ${data2}`]);
  const early = await backupNow(sandbox, config2, data2);

  const before = await storedBytes(sandbox);
  const snapshot1 = await snapshotTree(data1);
  const client = startClient(['-c', config1, '-e']);
  paused.stop = () => client.stop();
  // New bytes are stored only past the shared prefix: the session has deduplicated against all of it by then.
  await waitUntil(async () => (await storedBytes(sandbox)) > before + 4 * MEBIBYTE, 'the paused client to be past the shared part');
  client.child.kill('SIGSTOP');
  await unlink(join(data2, 'shared.bin'));
  await unlink(join(data2, 'old.bin'));
  await writeDeterministicFile(join(data2, 'new.bin'), 'node2-new', MEBIBYTE);
  const later = await backupNow(sandbox, config2, data2);
  const deletion = await sandbox.runClient(['-c', config2, '-d', String(early.number)]);
  assert.equal(deletion.code, 0, deletion.stderr);
  // The sweep ran while node1 was stopped and took old.bin's chunks, but not the shared ones node1's session holds.
  // It runs after the deletion's reply: waited for, with node1 still stopped.
  await waitForLog(server, / gc: [1-9]\d* chunks/, 'GC to sweep garbage while the backup is paused');
  assert.ok(client.isRunning(), 'the backup was still paused when GC ran');

  client.child.kill('SIGCONT');
  const result = await client.result;
  assert.equal(result.code, 0, `the resumed backup failed:\n${result.stdout}${result.stderr}`);
  const resumed: KnownBackup = { number: Number(/Backup (\d+) done/.exec(result.stdout)?.[1]), root: data1, snapshot: snapshot1 };
  assert.deepEqual(await listedNumbers(sandbox, config1), [resumed.number]);
  await assertRestoresExactly(sandbox, config1, [resumed]);
  await assertRestoresExactly(sandbox, config2, [later]);
  await server.stop();
  await assertCheckClean(sandbox);
});
