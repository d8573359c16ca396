// Proves a client killed (SIGKILL) in the middle of a backup leaves no visible backup and no damage:
// the server logs the backup as abandoned, and the next backup, and the older ones, restore.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Sandbox } from './support/sandbox';
import { createSampleTree, fileSha256, snapshotTree, treeDifferences, writeDeterministicFile } from './support/trees';
import { waitUntil } from './support/fault-tools';

const CLIENT_CLI = resolve(__dirname, '..', 'src', 'cli', 'cpsbackup.js');
const MEBIBYTE = 1024 * 1024;

async function packBytes(storeDirectory: string): Promise<number> {
  let total = 0;
  const visit = async (folder: string): Promise<void> => {
    for (const entry of await readdir(folder, { withFileTypes: true }).catch(() => [])) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) await visit(path);
      else if (entry.isFile()) total += (await stat(path)).size;
    }
  };
  await visit(storeDirectory);
  return total;
}

function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
  child.kill('SIGKILL');
  return exited;
}

test('a client killed mid-backup leaves no backup; the next backup and the older ones restore', async (t) => {
  // The killed client's session can wedge on Node 20 (backup-server.ts): then the server's pings end it,
  // within network_timeout, under the 60 s this test waits.
  const sandbox = await Sandbox.create({ serverLines: ['network_timeout = 20'] });
  let writer: ChildProcess | undefined;
  let backup: ChildProcess | undefined;
  t.after(async () => {
    await stopProcess(backup);
    await stopProcess(writer);
    await sandbox.destroy();
  });
  const data = join(sandbox.root, 'data');
  await createSampleTree(data);
  const server = await sandbox.startServer();
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`, 'read_all_fifos = 1']);
  const run = async (args: string[]): Promise<string> => {
    const result = await sandbox.runClient(['-c', config, ...args]);
    assert.equal(result.code, 0, `cpsbackup ${args.join(' ')} failed:\n${result.stdout}${result.stderr}`);
    return result.stdout;
  };
  const listedIds = async (): Promise<number[]> => (JSON.parse(await run(['-l', '--json'])) as { id: number }[]).map((listed) => listed.id);

  await run(['-e']);
  const first = await snapshotTree(data);

  await t.test('SIGKILL during the upload of an endless stream commits nothing', async () => {
    // A FIFO whose writer never stops: the backup cannot finish, so the kill surely lands mid-upload.
    const fifo = join(data, 'endless.fifo');
    execFileSync('mkfifo', [fifo]);
    writer = spawn('sh', ['-c', `exec cat /dev/urandom > '${fifo}'`], { stdio: 'ignore' });
    const storedBefore = await packBytes(sandbox.storeDirectory);
    try {
      backup = spawn(process.execPath, [CLIENT_CLI, '-c', config, '-e'], { stdio: 'ignore' });
      await waitUntil(async () => await packBytes(sandbox.storeDirectory) - storedBefore > 16 * MEBIBYTE,
        'the server to store 16 MiB of the stream', 60_000, server.log);
      // One backup per client at a time, refused with what the operator needs: which one runs, since when,
      // and that a killed one goes soon. Another include: a second reader of the FIFO would take its bytes.
      // Another state_directory and work_directory, as on a second node with this client's certificate: on the
      // same node the node's own locks refuse it first (backup-lock.test.ts).
      const other = join(sandbox.root, 'other');
      await mkdir(other);
      await writeFile(join(other, 'a'), 'a');
      const otherConfig = join(sandbox.root, 'node1-other.conf');
      await writeFile(otherConfig, (await readFile(config, 'utf8')).replace(`include = ${data}\n`, `include = ${other}\n`)
        .replace(/^state_directory = .*$/m, `state_directory = ${join(sandbox.root, 'state', 'node1-other')}`)
        .replace(/^work_directory = .*$/m, `work_directory = ${join(sandbox.root, 'work', 'node1-other')}`));
      const refused = await sandbox.runClient(['-c', otherConfig, '-e']);
      assert.equal(refused.code, 1, `${refused.stdout}${refused.stderr}`);
      assert.match(refused.stderr,
        /a backup of client "node1" is already running \(backup 2, started \d+ s ago\); one whose client was killed or cut off is dropped within network_timeout \(20 s\)/);
      await stopProcess(backup);
      assert.equal(backup.signalCode, 'SIGKILL');
      await waitUntil(() => /backup 2 of node1 abandoned: client "node1" disconnected/.test(server.log()), 'the server to log the abandoned backup', 60_000, server.log);
      // Said before the cleanup too: a log that stops there shows a slow cleanup, not a disconnect missed.
      assert.match(server.log(), /backup 2 of node1 stopped \(client "node1" disconnected before committing\); dropping it\n(.*\n)*.*backup 2 of node1 abandoned/);
    } finally {
      // The FIFO must go even on failure: a later backup would otherwise block reading it.
      await stopProcess(writer);
      await rm(fifo);
    }
    assert.doesNotMatch(server.log(), /cpsbackup-server error/);
    assert.deepEqual(await listedIds(), [1]);
  });

  await t.test('the next backup works and restores', async () => {
    assert.match(await run(['-e']), /^Backup 0000003 done/);
    assert.deepEqual(await listedIds(), [1, 3]);
    const target = join(sandbox.root, 'restored-3');
    await run(['-i', '3', '--to', target]);
    assert.deepEqual(treeDifferences(await snapshotTree(data), await snapshotTree(join(target, data))), []);
  });

  await t.test('after a server restart the older backup still restores', async () => {
    await server.stop();
    const restarted = await sandbox.startServer();
    const restartedConfig = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
    assert.equal(restartedConfig, config);
    const target = join(sandbox.root, 'restored-1');
    await run(['-i', '1', '--to', target]);
    assert.deepEqual(treeDifferences(first, await snapshotTree(join(target, data)), { compareFolderTimes: false }), []);
    assert.doesNotMatch(restarted.log(), /dropped [1-9]\d* unreadable chunks/);
  });
});

// Guards the resumption property: chunks written by a backup that was killed stay usable, so
// retrying the backup of the same big file stores only what the first attempt had not written.
test('after a client is killed mid-file, the retried backup stores only what was missing', async (t) => {
  const sandbox = await Sandbox.create({ serverLines: ['network_timeout = 20'] });
  let backup: ChildProcess | undefined;
  t.after(async () => {
    await stopProcess(backup);
    await sandbox.destroy();
  });
  const data = join(sandbox.root, 'data');
  const bigSize = 96 * MEBIBYTE;
  await writeDeterministicFile(join(data, 'big.bin'), 'resumable', bigSize);
  const server = await sandbox.startServer();
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
  const before = await packBytes(sandbox.storeDirectory);
  backup = spawn(process.execPath, [CLIENT_CLI, '-c', config, '-e'], { stdio: 'ignore' });
  await waitUntil(async () => (await packBytes(sandbox.storeDirectory)) - before > 32 * MEBIBYTE, 'the first attempt to store 32 MiB');
  await stopProcess(backup);
  // Until the server has dropped the killed attempt, a retry is refused as "already running".
  await waitUntil(() => /backup 1 of node1 abandoned/.test(server.log()), 'the server to drop the killed attempt', 60_000, server.log);

  const retry = await sandbox.runClient(['-c', config, '-e']);
  assert.equal(retry.code, 0, retry.stdout + retry.stderr);
  const [listed] = JSON.parse((await sandbox.runClient(['-c', config, '-l', '--json'])).stdout) as { newBytes: number; logicalBytes: number }[];
  assert.equal(listed.logicalBytes, bigSize);
  assert.ok(listed.newBytes < bigSize - 16 * MEBIBYTE, `the retry stored ${listed.newBytes} new bytes of ${bigSize}: the killed attempt's chunks were not reused`);
  const restored = join(sandbox.root, 'restored');
  const restore = await sandbox.runClient(['-c', config, '-i', '--to', restored]);
  assert.equal(restore.code, 0, restore.stdout + restore.stderr);
  assert.equal(await fileSha256(join(restored, data, 'big.bin')), await fileSha256(join(data, 'big.bin')));
});
