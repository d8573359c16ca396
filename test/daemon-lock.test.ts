// A second daemon of one node (started twice by hand, or by two service managers) ran every job beside
// the first, and half of each night's jobs failed as "another backup of this node is running". It is
// refused at start, naming the first one's pid and the lock; once the first stops, a new one starts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdir, symlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Sandbox, runNode } from './support/sandbox';
import { waitUntil } from './support/fault-tools';

const CLI = resolve(__dirname, '..', 'src', 'cli', 'cpsbackup.js');

function startDaemon(config: string): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [CLI, 'daemon', '-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  return { child, output: () => output, exited };
}

test('a second daemon of the same node is refused at start, naming the first; after the first stops one starts', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  const data = join(sandbox.root, 'data');
  await mkdir(data);
  await sandbox.startServer();
  // Once a year: nothing runs while the test looks (the first start's catch-up backup aside).
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`, 'schedule_complete = 0 0 1 1 *']);
  const first = startDaemon(config);
  t.after(() => { first.child.kill('SIGKILL'); });
  await waitUntil(() => /daemon started \(pid \d+/.test(first.output()), 'the first daemon to start');

  // Through a symlink to the same node.conf: the same daemon.
  const linked = join(sandbox.root, 'linked.conf');
  await symlink(config, linked);
  const second = await runNode(CLI, ['daemon', '-c', linked], 60_000);
  assert.equal(second.code, 1, second.stdout + second.stderr);
  assert.match(second.stdout + second.stderr, new RegExp(`another daemon of \\S+linked\\.conf is running \\(pid ${first.child.pid}, lock \\S+daemon\\.[0-9a-f]{12}\\.lock\\): not started`));
  assert.doesNotMatch(second.stdout + second.stderr, /daemon started/);

  // Another node.conf sharing the state_directory (a receiver of two clients runs a daemon for each) is not refused.
  const other = join(sandbox.root, 'node1-receiver.conf');
  await copyFile(config, other);
  const beside = startDaemon(other);
  t.after(() => { beside.child.kill('SIGKILL'); });
  await waitUntil(() => /daemon started \(pid \d+/.test(beside.output()), 'a daemon of another node.conf to start beside it');
  beside.child.kill('SIGTERM');
  assert.equal(await beside.exited, 0, beside.output());

  first.child.kill('SIGTERM');
  assert.equal(await first.exited, 0, first.output());
  const third = startDaemon(config);
  t.after(() => { third.child.kill('SIGKILL'); });
  await waitUntil(() => /daemon started \(pid \d+/.test(third.output()), 'a daemon to start once the first stopped');
  third.child.kill('SIGTERM');
  assert.equal(await third.exited, 0, third.output());
});
