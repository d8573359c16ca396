// The daemon runs for weeks with one event loop that never empties, so nothing but node.conf's
// network_timeout (gRPC keepalive pings) can tell it that a server stopped answering mid-backup. A job
// that waited for ever would leave the node without backups and without a word: here the job fails with
// the reason, the daemon goes on, and once the server answers again the next scheduled run commits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox } from './support/sandbox';
import { startClient, type BackgroundClient } from './support/background-client';
import { createSampleTree } from './support/trees';
import { waitUntil, writtenPackBytes } from './support/fault-tools';

const MEBIBYTE = 1024 * 1024;
/** A ping every 4 s, 4 s to answer it: the frozen server is given up within about 8 s. */
const NETWORK_TIMEOUT_SECONDS = 8;
/** A hang shows as a failure here, not as the whole suite's timeout. */
const HANG_LIMIT_MILLISECONDS = 90_000;

function count(text: string, pattern: RegExp): number {
  return text.match(new RegExp(pattern.source, 'gm'))?.length ?? 0;
}

test('a daemon whose server freezes mid-backup logs the job failed within network_timeout, keeps running, and commits the next run once thawed', async (t) => {
  // The server's own network_timeout bounds how long it takes, thawed, to drop the backup whose client gave up.
  const sandbox = await Sandbox.create({ serverLines: ['network_timeout = 20'] });
  let writer: ChildProcess | undefined;
  let daemon: BackgroundClient | undefined;
  const server = await sandbox.startServer();
  // A stopped server outlives a test process killed in the meantime; thawed, it ends with its parent's pipes.
  const thawOnExit = (): void => { server.process.kill('SIGCONT'); };
  process.once('exit', thawOnExit);
  t.after(async () => {
    process.off('exit', thawOnExit);
    await daemon?.stop();
    writer?.kill('SIGKILL');
    server.process.kill('SIGCONT');
    await server.stop();
    await sandbox.destroy();
  });
  const data = join(sandbox.root, 'data');
  await createSampleTree(data);
  // A FIFO whose writer never stops: the first run's upload is surely running when the server freezes.
  const fifo = join(data, 'endless.fifo');
  execFileSync('mkfifo', [fifo]);
  writer = spawn('sh', ['-c', `exec cat /dev/urandom > '${fifo}'`], { stdio: 'ignore' });
  const config = await sandbox.writeNodeConfig('node1', [
    `include = ${data}`, 'read_all_fifos = 1', 'schedule_complete = * * * * * *', `network_timeout = ${NETWORK_TIMEOUT_SECONDS}`,
  ]);

  const storedBefore = await writtenPackBytes(sandbox);
  daemon = startClient(['daemon', '-c', config]);
  await waitUntil(async () => await writtenPackBytes(sandbox) - storedBefore > 4 * MEBIBYTE, 'the server to store 4 MiB of the stream',
    HANG_LIMIT_MILLISECONDS, () => `${daemon!.output()}\n${server.log()}`);
  server.process.kill('SIGSTOP');
  const frozenAt = Date.now();
  const dropped = / error complete: failed after [\d.]+ s: the connection to the backup server at 127\.0\.0\.1:\d+ dropped: .*answered nothing, not even a ping, for network_timeout/;
  try {
    await waitUntil(() => dropped.test(daemon!.output()), 'the running job to fail on the frozen server', HANG_LIMIT_MILLISECONDS, daemon.output);
  } finally {
    server.process.kill('SIGCONT');
  }
  const waited = (Date.now() - frozenAt) / 1000;
  console.log(`daemon-network-timeout: the job failed ${waited.toFixed(1)} s after the server froze (network_timeout = ${NETWORK_TIMEOUT_SECONDS} s)`);
  assert.ok(daemon.isRunning(), `the daemon exited:\n${daemon.output()}`);

  // The endless FIFO would keep every later run streaming: the next run backs up the tree alone.
  writer.kill('SIGKILL');
  await rm(fifo, { force: true });
  const committed = / info complete: backup \d+ committed/;
  await waitUntil(() => count(daemon!.output(), committed) >= 1, 'a later scheduled run to commit', HANG_LIMIT_MILLISECONDS,
    () => `${daemon!.output()}\n${server.log()}`);
  daemon.child.kill('SIGTERM');
  const { code } = await daemon.result;
  assert.equal(code, 0, daemon.output());
  const listed = await sandbox.runClient(['-c', config, '-l', '--json']);
  assert.equal(listed.code, 0, listed.stderr);
  assert.ok((JSON.parse(listed.stdout) as unknown[]).length >= 1, listed.stdout);
});
