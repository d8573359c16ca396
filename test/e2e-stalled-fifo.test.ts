// Regression (review): a FIFO read waited on its writer whatever happened to the backup. With a writer
// that stalls (a dumper stuck on a lock, a FIFO read with read_all_fifos), a server that went away left
// `-e` running until the dumper's timeout (3600 s by default), or for ever for a read_all_fifos FIFO; a
// daemon's later jobs waited behind it. A Ctrl-C of -e did not end it either. Now both end such a read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Sandbox, type CommandResult } from './support/sandbox';
import { startClient } from './support/background-client';

/** The client's result, or a failure naming what it printed if it has not ended within `limitMs`. */
async function endedWithin(result: Promise<CommandResult>, limitMs: number, what: string, output: () => string): Promise<CommandResult> {
  const ended = await Promise.race([result, sleep(limitMs).then(() => undefined)]);
  assert.ok(ended !== undefined, `-e did not end within ${limitMs} ms of ${what}:\n${output()}`);
  return ended;
}

/** A read_all_fifos FIFO in `data` whose writer writes 1 MB, then holds it open without writing; killed at the test's end. */
function stalledFifoIn(t: { after(fn: () => void): void }, data: string): void {
  const fifo = join(data, 'stalled.fifo');
  execFileSync('mkfifo', [fifo]);
  const writer = spawn('sh', ['-c', `exec > "${fifo}"; head -c 1000000 /dev/zero; exec sleep 3600`], { stdio: 'ignore', detached: true });
  t.after(() => {
    try {
      process.kill(-writer.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  });
}

for (const source of ['read_all_fifos', 'dump'] as const) {
  test(`a ${source === 'dump' ? 'dump whose dumper' : 'read_all_fifos FIFO whose writer'} stalls: -e ends as soon as the server goes away`, async (t) => {
    const sandbox = await Sandbox.create();
    const data = join(sandbox.root, 'data');
    await mkdir(data);
    const storage = join(sandbox.root, 'storage.conf');
    if (source === 'dump') await writeFile(storage, 'source = stalled\nkind = command\ndump = head -c 1000000 /dev/zero; sleep 3600\nload = cat > /dev/null\n');
    else stalledFifoIn(t, data);
    const server = await sandbox.startServer();
    const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`, source === 'dump' ? `storage_conf = ${storage}` : 'read_all_fifos = 1']);
    const backup = startClient(['-c', config, '-e']);
    // Hooks run in the order they are added: the client and the writer go before the sandbox's folder.
    t.after(async () => {
      await backup.stop();
      await sandbox.destroy();
    });
    await sleep(3000);
    assert.ok(backup.isRunning(), `the backup ended although its ${source} writer holds it open:\n${backup.output()}`);
    server.process.kill('SIGKILL');
    const result = await endedWithin(backup.result, 15_000, 'the server\'s end', () => backup.output());
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(result.stderr, /the connection to the backup server at .* dropped/);
  });
}

test('a read_all_fifos FIFO whose writer stalls: the first Ctrl-C of -e ends it, nothing committed', async (t) => {
  const sandbox = await Sandbox.create();
  const data = join(sandbox.root, 'data');
  await mkdir(data);
  stalledFifoIn(t, data);
  await sandbox.startServer();
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`, 'read_all_fifos = 1']);
  const backup = startClient(['-c', config, '-e']);
  t.after(async () => {
    await backup.stop();
    await sandbox.destroy();
  });
  await sleep(3000);
  assert.ok(backup.isRunning(), `the backup ended although its FIFO's writer holds it open:\n${backup.output()}`);
  backup.child.kill('SIGINT');
  const result = await endedWithin(backup.result, 15_000, 'its Ctrl-C', () => backup.output());
  assert.equal(result.code, 130, result.stdout + result.stderr);
  assert.equal(result.stderr.trim(), 'interrupted: nothing was committed');
  assert.equal((await sandbox.runClient(['-c', config, '-l'])).stdout, '');
});
