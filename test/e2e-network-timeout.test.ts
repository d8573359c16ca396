// A server that answers nothing (SIGSTOP: the kernel keeps its connections and its listening socket open,
// as with a frozen process or a host gone without a reset) fails the client after node.conf's
// network_timeout, with the reason, mid-call and before the connection is even made; it used to wait for ever.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Sandbox, type CommandResult, type SandboxServer } from './support/sandbox';
import { startClient, type BackgroundClient } from './support/background-client';
import { createSampleTree, snapshotTree, treeDifferences } from './support/trees';
import { waitUntil, writtenPackBytes } from './support/fault-tools';

const MEBIBYTE = 1024 * 1024;
/**
 * For the runs against the frozen server only: a ping every 4 s, 4 s to answer it. The healthy runs keep
 * the default, so a loaded machine's pause cannot fail them.
 */
const NETWORK_TIMEOUT_SECONDS = 8;
/** A hang shows as a failure here, not as the whole suite's timeout; no run comes near it. */
const HANG_LIMIT_MILLISECONDS = 90_000;

/** Thaws first: a stopped process keeps a SIGTERM pending, and the sandbox would wait on it for ever. */
async function thawAndStop(server: SandboxServer | undefined): Promise<void> {
  server?.process.kill('SIGCONT');
  await server?.stop();
}

test('a server that stops answering fails the client after network_timeout, mid-backup and at connection; thawed, it serves again', async (t) => {
  // The server's own network_timeout bounds how long it takes, thawed, to drop the backup whose client gave up.
  const sandbox = await Sandbox.create({ serverLines: ['network_timeout = 20'] });
  let writer: ChildProcess | undefined;
  let backup: BackgroundClient | undefined;
  t.after(async () => {
    await backup?.stop();
    writer?.kill('SIGKILL');
    await thawAndStop(sandbox.runningServer);
    await sandbox.destroy();
  });
  const data = join(sandbox.root, 'data');
  await createSampleTree(data);
  const server = await sandbox.startServer();
  // A stopped server outlives a test process killed in the meantime; thawed, it ends with its parent's pipes.
  const thawOnExit = (): void => { server.process.kill('SIGCONT'); };
  process.once('exit', thawOnExit);
  t.after(() => { process.off('exit', thawOnExit); });
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`, 'read_all_fifos = 1']);
  const impatient = join(sandbox.root, 'node1-impatient.conf');
  await writeFile(impatient, `${await readFile(config, 'utf8')}network_timeout = ${NETWORK_TIMEOUT_SECONDS}\n`);
  const first = await sandbox.runClient(['-c', config, '-e']);
  assert.equal(first.code, 0, first.stderr);

  await t.test('frozen mid-backup: the backup fails with the reason, and nothing of it is committed', async () => {
    // A FIFO whose writer never stops: the upload is surely running when the server freezes.
    const fifo = join(data, 'endless.fifo');
    execFileSync('mkfifo', [fifo]);
    writer = spawn('sh', ['-c', `exec cat /dev/urandom > '${fifo}'`], { stdio: 'ignore' });
    let result: CommandResult | undefined;
    try {
      const storedBefore = await writtenPackBytes(sandbox);
      backup = startClient(['-c', impatient, '-e']);
      await waitUntil(async () => await writtenPackBytes(sandbox) - storedBefore > 4 * MEBIBYTE, 'the server to store 4 MiB of the stream',
        HANG_LIMIT_MILLISECONDS, server.log);
      server.process.kill('SIGSTOP');
      result = await Promise.race([backup.result, sleep(HANG_LIMIT_MILLISECONDS, undefined, { ref: false })]);
    } finally {
      // A backup still waiting would hold node1's slot, and the later subtests would only say "already running".
      if (result === undefined) await backup?.stop();
      server.process.kill('SIGCONT');
      writer.kill('SIGKILL');
      await rm(fifo, { force: true });
    }
    assert.ok(result !== undefined, 'the backup still waited for the frozen server');
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /connection to the backup server at 127\.0\.0\.1:\d+ dropped: .*answered nothing, not even a ping, for network_timeout/);
    // Thawed, the server finds the client gone (the socket's reset, or its own ping) and drops the backup.
    await waitUntil(() => /backup 2 of node1 abandoned/.test(server.log()), 'the server to drop the backup', HANG_LIMIT_MILLISECONDS, server.log);
    const listed = await sandbox.runClient(['-c', config, '-l', '--json']);
    assert.deepEqual((JSON.parse(listed.stdout) as { id: number }[]).map((listedBackup) => listedBackup.id), [1]);
  });

  await t.test('frozen before the connection: -l fails with the reason instead of waiting for the handshake for ever', async () => {
    server.process.kill('SIGSTOP');
    try {
      const listing = startClient(['-c', impatient, '-l']);
      const result = await Promise.race([listing.result, sleep(HANG_LIMIT_MILLISECONDS, undefined, { ref: false })]);
      if (result === undefined) await listing.stop();
      assert.ok(result !== undefined, '-l still waited for the frozen server');
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, /no connection to the backup server at 127\.0\.0\.1:\d+ within network_timeout \(node\.conf\): its host is down or unreachable, or the server is frozen/);
    } finally {
      server.process.kill('SIGCONT');
    }
  });

  await t.test('thawed, the server takes the next backup, which restores', async () => {
    const next = await sandbox.runClient(['-c', config, '-e']);
    assert.equal(next.code, 0, next.stderr);
    const target = join(sandbox.root, 'restored');
    const restored = await sandbox.runClient(['-c', config, '-i', '--to', target]);
    assert.equal(restored.code, 0, restored.stderr);
    assert.deepEqual(treeDifferences(await snapshotTree(data), await snapshotTree(join(target, data))), []);
  });
});
