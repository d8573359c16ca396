// Regression: -i took no lock, in place or loading, while -e and the daemon took backup.lock. Beside a backup,
// the restore replaced the backup's dump FIFO with its dump file, the dumper wrote the live database into it and
// the restore loaded that mixture, exit 0 ("LIVE-73\nME" where "RESTORE-ME" was asked for). Now a restore in
// place or loading, a receive, and a backup exclude each other through backup.lock: the second is refused at
// once (exit 1, or BusyError for the daemon, which retries), naming the first one's pid and what it is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Sandbox } from './support/sandbox';
import { withBackupLock } from '../src/client/backup-lock';
import { runJob } from '../src/client/daemon/daemon-jobs';
import { runReceive } from '../src/client/receiver/receiver';
import { loadNodeConfig } from '../src/common/config/node-config';
import { loadStorageConfig } from '../src/client/sources/storage-config';
import { createLogger } from '../src/common/logger';
import { BusyError } from '../src/common/errors';

const CLI = resolve(__dirname, '..', 'src', 'cli', 'cpsbackup.js');

interface Background {
  readonly child: ChildProcess;
  readonly ended: Promise<number | null>;
  output(): string;
}

function background(args: readonly string[]): Background {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  return { child, ended: new Promise((done) => child.on('close', done)), output: () => output };
}

/** Until `file` exists (a gated dump or load has started); fails if `run` ended first. */
async function waitFor(file: string, run: Background): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (!existsSync(file)) {
    assert.ok(Date.now() < deadline && run.child.exitCode === null, `never started:\n${run.output()}`);
    await sleep(50);
  }
}

/** A node with one folder and a command source whose dump and load wait at a gate once `gate` exists. */
async function gatedNode(sandbox: Sandbox): Promise<{ config: string; storage: string; data: string; database: string; paths: Record<string, string> }> {
  const root = sandbox.root;
  const paths = { gate: join(root, 'gate'), started: join(root, 'started'), release: join(root, 'release') };
  // Also ends once the sandbox is gone: a failing test leaves no loop behind.
  const wait = `if [ -e ${paths.gate} ]; then touch ${paths.started}; while [ ! -e ${paths.release} ] && [ -e ${paths.gate} ]; do sleep 0.1; done; fi`;
  const data = join(root, 'data');
  await mkdir(data);
  const database = join(root, 'database.txt');
  const storage = join(root, 'storage.conf');
  await writeFile(storage, ['source = app', 'kind = command', `dump = ${wait}; cat ${database}`, `load = ${wait}; cat > ${database}`, ''].join('\n'));
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`, `storage_conf = ${storage}`]);
  return { config, storage, data, database, paths };
}

test('a restore in place or loading is refused while a backup of the node runs; --to a folder without --load is not', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  await sandbox.startServer();
  const { config, data, database, paths } = await gatedNode(sandbox);
  await writeFile(join(data, 'a.txt'), 'backed up\n');
  await writeFile(database, 'RESTORE-ME\n');
  const first = await sandbox.runClient(['-c', config, '-e']);
  assert.equal(first.code, 0, first.stderr);
  await writeFile(join(data, 'a.txt'), 'live\n');
  await writeFile(database, 'LIVE\n');

  await writeFile(paths.gate, '');
  const backup = background(['-c', config, '-e']);
  t.after(() => { backup.child.kill(); });
  await waitFor(paths.started, backup);
  for (const args of [['-i', '1', '--overwrite'], ['-i', '1', '--include', data, '--overwrite'], ['-i', '1', '--to', join(sandbox.root, 'loaded'), '--load']]) {
    const refused = await sandbox.runClient(['-c', config, ...args]);
    assert.equal(refused.code, 1, `${args.join(' ')}: ${refused.stdout}${refused.stderr}`);
    assert.match(refused.stderr, new RegExp(`a backup of this node is running \\(pid ${backup.child.pid}, lock \\S+backup\\.lock\\): this restore was not started; `
      + 'nothing was written or loaded'));
  }
  assert.equal(await readFile(join(data, 'a.txt'), 'utf8'), 'live\n');
  assert.equal(await readFile(database, 'utf8'), 'LIVE\n');
  const aside = await sandbox.runClient(['-c', config, '-i', '1', '--to', join(sandbox.root, 'aside')]);
  assert.equal(aside.code, 0, `${aside.stdout}${aside.stderr}`);
  assert.equal(await readFile(join(sandbox.root, 'aside', data, 'a.txt'), 'utf8'), 'backed up\n');

  await writeFile(paths.release, '');
  assert.equal(await backup.ended, 0, backup.output());
  const restored = await sandbox.runClient(['-c', config, '-i', '1', '--overwrite']);
  assert.equal(restored.code, 0, `${restored.stdout}${restored.stderr}`);
  assert.equal(await readFile(join(data, 'a.txt'), 'utf8'), 'backed up\n');
  assert.equal(await readFile(database, 'utf8'), 'RESTORE-ME\n');
});

test('a backup (-e, the daemon\'s job) is refused while a restore loads into the node, naming it; it runs once the restore ended', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  await sandbox.startServer();
  const { config, storage, data, database, paths } = await gatedNode(sandbox);
  await writeFile(join(data, 'a.txt'), 'backed up\n');
  await writeFile(database, 'RESTORE-ME\n');
  assert.equal((await sandbox.runClient(['-c', config, '-e'])).code, 0);
  await writeFile(database, 'LIVE\n');

  await writeFile(paths.gate, '');
  const restore = background(['-c', config, '-i', '1']);
  t.after(() => { restore.child.kill(); });
  await waitFor(paths.started, restore);
  const refused = await sandbox.runClient(['-c', config, '-e']);
  assert.equal(refused.code, 1, `${refused.stdout}${refused.stderr}`);
  assert.match(refused.stderr, new RegExp(`a restore into this node's live paths or databases is running \\(pid ${restore.child.pid}, lock \\S+backup\\.lock\\): `
    + 'this one was not started; no script or dump was run'));
  const nodeConfig = loadNodeConfig(config);
  const context = { config: nodeConfig, storage: () => loadStorageConfig(storage), logger: createLogger('daemon', () => undefined) };
  // A BusyError: the daemon's scheduler retries it (5, 15, 30 minutes, then hourly).
  await assert.rejects(runJob('complete', context, new AbortController().signal),
    (error: unknown) => error instanceof BusyError && /a restore into this node's live paths or databases is running/.test(error.message));

  await writeFile(paths.release, '');
  assert.equal(await restore.ended, 0, restore.output());
  assert.equal(await readFile(database, 'utf8'), 'RESTORE-ME\n');
  await runJob('complete', context, new AbortController().signal);
  assert.equal((await sandbox.runClient(['-c', config, '-l'])).stdout.split('\n').filter(Boolean).length, 2);
});

test('a receive is refused while a backup of the node runs', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  await sandbox.startServer();
  const { config, storage } = await gatedNode(sandbox);
  const nodeConfig = loadNodeConfig(config);
  await withBackupLock(nodeConfig, async () => {
    await assert.rejects(runReceive(nodeConfig, { storage: loadStorageConfig(storage) }), (error: unknown) => error instanceof BusyError
      && new RegExp(`a backup of this node is running \\(pid ${process.pid}, lock \\S+backup\\.lock\\): this receive was not started`).test(error.message));
  }, (warning) => assert.fail(warning));
});
